"""Reference Zigflow and Stigma services: the executable contract of the token handshake.

Each runs as its own OS process (``python -m reference_services.zigflow`` /
``python -m reference_services.stigma``) and is reached by the harness only
through gRPC, Temporal and its command line / environment, so a team can swap
in its own implementation in any language.
"""
