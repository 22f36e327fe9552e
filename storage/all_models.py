"""Imports every model module so the metadata knows all tables (migrations, tests)."""

from storage import attachments, groups, meetings, models, reports, structures, tokens  # noqa: F401
