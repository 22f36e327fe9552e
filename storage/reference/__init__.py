"""Reference data shipped with relais (communes of France) and the scripts that build it."""
