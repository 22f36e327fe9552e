"""Imports every model module so the metadata knows all tables (migrations, tests)."""

from storage import models, reports  # noqa: F401
