"""relais: the chat bot of French digital-inclusion networks (core, knows no feature)."""
