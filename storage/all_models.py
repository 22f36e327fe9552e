"""Imports every model module so the metadata knows all tables (migrations, tests)."""

from storage import groups, meetings, members, models, reports, structures, tokens  # noqa: F401
