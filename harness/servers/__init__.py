"""Servers the harness runs or talks to, one process or endpoint each:
Temporal, Toxiproxy, Prometheus, a Stigma probe."""
