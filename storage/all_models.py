"""Imports every model module so the metadata knows all tables (migrations, tests)."""

from storage import models  # noqa: F401
