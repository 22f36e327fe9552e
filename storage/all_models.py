"""Imports every model module so the metadata knows all tables (migrations, tests)."""

from storage import alerts, closures, groups, meetings, models, reports, structures, tokens  # noqa: F401
