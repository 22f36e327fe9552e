"""Features, one module each, written once for every platform."""
