"""Real servers (PostgreSQL, Synapse) started and stopped by the test suite itself."""
