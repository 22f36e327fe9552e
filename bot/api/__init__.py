"""HTTP API for the coordinating service: scoped tokens, reports (JSON/CSV), aggregates, /healthz, /metrics."""

from bot.api.server import create_api, serve

__all__ = ["create_api", "serve"]
