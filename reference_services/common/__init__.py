"""Small helpers shared by the reference services (never by the harness)."""
