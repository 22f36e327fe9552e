"""Prometheus counters of one running bot (a registry per App, so tests never share them)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages_in = Counter("relais_messages_in", "Messages received", ["platform"], registry=self.registry)
        self.messages_out = Counter("relais_messages_out", "Messages sent", ["platform"], registry=self.registry)
        self.errors = Counter("relais_errors", "Unexpected errors answered with an apology", registry=self.registry)
        self.reports = Gauge("relais_reports", "Field reports stored", registry=self.registry)
        self.outbox_depth = Gauge("relais_outbox_depth", "Messages waiting to be sent", registry=self.registry)
        self.outbox_age = Gauge("relais_outbox_oldest_age_seconds", "Age of the oldest waiting message",
                                registry=self.registry)
