"""French text catalogs (TOML), one per feature."""
