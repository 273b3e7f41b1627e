"""The handshake harness engine: stack, driver, history, checkers, reports.

Knows no scenario. Reaches the services only through their contract: gRPC,
Temporal, and the documented command line / environment.
"""
