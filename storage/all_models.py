"""Imports every model module so the metadata knows all tables (migrations, tests)."""

from storage import groups, models, reports, tokens  # noqa: F401
