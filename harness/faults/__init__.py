"""Faults applied to a running stack: process kills and pauses, the clock, the fault matrix."""
