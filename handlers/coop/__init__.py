"""coop: the coordination activities, exported in the Coop de la médiation numérique's format."""
