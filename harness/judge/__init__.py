"""Checkers over what was observed, and how their verdicts become test outcomes."""
