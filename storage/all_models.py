"""Imports every model module so the metadata knows all tables (migrations, tests)."""

from storage import alerts, attachments, closures, groups, meetings, models, reports, structures, tokens  # noqa: F401,E501
