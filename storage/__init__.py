"""Database models, queries, migrations and reference data; imports nothing of bot/ or handlers/."""
