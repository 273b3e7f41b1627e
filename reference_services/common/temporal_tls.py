"""TLS and an API key towards Temporal, from the service contract's flags and
environment (``<SERVICE>_TEMPORAL_TLS``, ``_TLS_CA``, ``_TLS_CERT``, ``_TLS_KEY``,
``_TLS_SERVER_NAME``, ``_API_KEY``; docs/reference/contract.md). Unset: plain text.

The API key is read from the environment or the flag and sent as a bearer token; it is
never logged (``describe`` names the kind of authentication only).
"""

from __future__ import annotations

import argparse
import pathlib
from typing import Any

from temporalio.client import TLSConfig

from reference_services.common.lifecycle import env_or

# (flag, environment suffix, help)
_SETTINGS = (
    ("--temporal-tls-ca", "TEMPORAL_TLS_CA", "server CA certificate(s), PEM"),
    ("--temporal-tls-cert", "TEMPORAL_TLS_CERT", "client certificate for mTLS, PEM"),
    ("--temporal-tls-key", "TEMPORAL_TLS_KEY", "client private key for mTLS, PEM"),
    (
        "--temporal-tls-server-name",
        "TEMPORAL_TLS_SERVER_NAME",
        "name to check in the server's certificate (default: the address's host)",
    ),
    ("--temporal-api-key", "TEMPORAL_API_KEY", "API key, sent as a bearer token"),
)


def add_arguments(p: argparse.ArgumentParser, env: dict[str, str], service: str) -> None:
    prefix = service.upper() + "_"
    p.add_argument(
        "--temporal-tls",
        action="store_true",
        default=env_or(env, prefix + "TEMPORAL_TLS", "").lower() in ("1", "true", "yes"),
        help="connect to Temporal with TLS; implied by the options below "
        f"(env {prefix}TEMPORAL_TLS)",
    )
    for flag, suffix, meaning in _SETTINGS:
        p.add_argument(
            flag, default=env_or(env, prefix + suffix, ""), help=f"{meaning} (env {prefix}{suffix})"
        )


def _read(path: str) -> bytes | None:
    return pathlib.Path(path).read_bytes() if path else None


def uses_tls(args: argparse.Namespace) -> bool:
    return bool(
        args.temporal_tls
        or args.temporal_tls_ca
        or args.temporal_tls_cert
        or args.temporal_tls_key
        or args.temporal_api_key
    )


def connect_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """``Client.connect`` keyword arguments: ``tls`` and ``api_key``."""
    if not uses_tls(args):
        return {}
    return {
        "tls": TLSConfig(
            server_root_ca_cert=_read(args.temporal_tls_ca),
            client_cert=_read(args.temporal_tls_cert),
            client_private_key=_read(args.temporal_tls_key),
            domain=args.temporal_tls_server_name or None,
        ),
        "api_key": args.temporal_api_key or None,
    }


def describe(args: argparse.Namespace) -> str:
    """For the ready log line: never the key."""
    if not uses_tls(args):
        return "plain"
    auth = "api-key" if args.temporal_api_key else ("mtls" if args.temporal_tls_cert else "none")
    return f"tls auth={auth}"
