"""Latency figures: the benchmark and its statistics."""
