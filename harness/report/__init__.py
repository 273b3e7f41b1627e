"""The certification report: its renderers, charts and runbook links."""
