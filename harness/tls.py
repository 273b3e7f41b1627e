"""How the harness and the services it starts reach a Temporal cluster behind TLS.

One home for the connection settings (server CA, client certificate and key for
mTLS, server name, API key): the same option names in the gate (pytest options),
``handshake certify``, ``handshake bench`` and ``handshake load``; the same
environment variables (``HANDSHAKE_TEMPORAL_TLS``, ``HANDSHAKE_TEMPORAL_TLS_CA``,
``HANDSHAKE_TEMPORAL_TLS_CERT``, ``HANDSHAKE_TEMPORAL_TLS_KEY``,
``HANDSHAKE_TEMPORAL_TLS_SERVER_NAME``, ``HANDSHAKE_TEMPORAL_API_KEY``) and
``[tool.handshake]`` keys (``temporal-tls-ca`` ...) through ``harness.settings``.
Every command also reads the names Temporal's own CLI and SDKs use
(``TEMPORAL_TLS_SERVER_CA_CERT_PATH`` ..., ``Setting.temporal_envs``) under the
harness's own (``harness.settings``), so a shell set up for ``temporal workflow list``
needs nothing more.

The services get the same settings through their contract (``harness.contract``:
``ZIGFLOW_TEMPORAL_TLS_CA`` ...). In the gate they reach Temporal through the
harness's relays: Toxiproxy links pass TLS through untouched (so the services check
the cluster's name: ``server_name_for``), while the completion relay parses gRPC and
so terminates TLS with a certificate from a per-run harness CA (``HarnessCA``); the
services trust a bundle of the cluster's CA and that one.

Secrets: the API key and private keys are read from where the user put them and
handed on through environments and files, never through a command line, a log line
or a report; ``Connection.describe`` and ``leaks`` exist for that.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import pathlib
import ssl
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError

if TYPE_CHECKING:  # the locustfile imports this under gevent: temporalio only when used
    import grpc
    from temporalio.client import TLSConfig


# What a failed TLS connection's error says; the harness reports it at once (a wrong CA
# or certificate does not heal by waiting) with this code, which tests and CI can match.
TLS_FAILED = "tls_handshake_failed"


class TLSConnectError(ConfigError):
    """The TLS handshake with the cluster failed: wrong CA, server name or client
    certificate. ``str()`` starts with ``TLS_FAILED``."""


@dataclass(frozen=True)
class Setting:
    field: str  # Connection's field
    option: str  # the command-line option (its argparse dest is option[2:] with _)
    meaning: str
    # The names Temporal's CLI and SDKs read for it (temporalio.envconfig), first the
    # one that wins; then the `temporal` CLI's older flag variables, which load read.
    temporal_envs: tuple[str, ...]
    flag: bool = False
    secret: bool = False

    @property
    def env(self) -> str:
        """The harness's environment variable (and, lower case, the config-file key)."""
        return "HANDSHAKE_" + self.option[2:].upper().replace("-", "_")

    @property
    def dest(self) -> str:
        return self.option[2:].replace("-", "_")


SETTINGS = (
    Setting(
        "tls",
        "--temporal-tls",
        "connect to Temporal with TLS (implied by a CA, a client certificate or an API key; "
        "alone: the system's CAs)",
        ("TEMPORAL_TLS",),
        flag=True,
    ),
    Setting(
        "ca",
        "--temporal-tls-ca",
        "the cluster's server CA certificate(s), a PEM file",
        ("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_CA"),
    ),
    Setting(
        "cert",
        "--temporal-tls-cert",
        "client certificate for mTLS, a PEM file",
        ("TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CERT"),
    ),
    Setting(
        "key",
        "--temporal-tls-key",
        "client private key for mTLS, a PEM file",
        ("TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_KEY"),
    ),
    Setting(
        "server_name",
        "--temporal-tls-server-name",
        "name to check in the server's certificate (default: the host of the address)",
        ("TEMPORAL_TLS_SERVER_NAME",),
    ),
    Setting(
        "api_key",
        "--temporal-api-key",
        "API key, sent as a bearer token (Temporal Cloud); prefer the environment variable "
        "to the option, which shows in process lists",
        ("TEMPORAL_API_KEY",),
        secret=True,
    ),
)
BY_FIELD = {s.field: s for s in SETTINGS}


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


# What each PEM file of a TLS setting must hold.
PEM_MARKERS = {"ca": b"CERTIFICATE", "cert": b"CERTIFICATE", "key": b"KEY"}


def _pem_problem(path: str, marker: bytes) -> str | None:
    """What is wrong with a PEM file a setting names (None: nothing, or no file given)."""
    if not path:
        return None
    try:
        data = pathlib.Path(path).read_bytes()
    except OSError as err:
        return f"cannot read it ({err.strerror})"
    if b"-----BEGIN" not in data or marker not in data:
        return f"not a PEM file with a {marker.decode()}"
    return None


@dataclass(frozen=True)
class Connection:
    """TLS and authentication towards Temporal (empty: plain text, no key)."""

    tls: bool = False
    ca: str = ""
    cert: str = ""
    key: str = ""
    server_name: str = ""
    api_key: str = dataclasses.field(default="", repr=False)

    @property
    def uses_tls(self) -> bool:
        # An API key travels only over TLS (Temporal Cloud); so does a client certificate.
        return self.tls or bool(self.ca or self.cert or self.key or self.api_key)

    @property
    def auth(self) -> str:
        return "api-key" if self.api_key else ("mTLS" if self.cert else "none")

    def describe(self) -> str:
        """For logs and reports: paths and names, never the key or the key material."""
        if not self.uses_tls:
            return "plain text"
        parts = [f"tls ca={self.ca or 'system'}", f"auth={self.auth}"]
        if self.server_name:
            parts.append(f"server-name={self.server_name}")
        return " ".join(parts)

    def validate(self) -> None:
        """Readable PEM files, a certificate with its key: a clear error before any
        connection is tried (the message names option and variable, never a secret)."""
        if bool(self.cert) != bool(self.key):
            given, missing = ("cert", "key") if self.cert else ("key", "cert")
            raise ConfigError(
                f"{BY_FIELD[given].option} needs {BY_FIELD[missing].option} "
                f"({BY_FIELD[missing].env}): mTLS takes a client certificate and its key"
            )
        for name, path in (("ca", self.ca), ("cert", self.cert), ("key", self.key)):
            s = BY_FIELD[name]
            problem = _pem_problem(path, PEM_MARKERS[name])
            if problem:
                raise ConfigError(f"{s.option} ({s.env}) {path}: {problem}")
        if self.api_key.strip() != self.api_key or not self.api_key.isprintable():
            raise ConfigError(
                f"{BY_FIELD['api_key'].option} ({BY_FIELD['api_key'].env}): the key has "
                "whitespace or control characters (a stray newline from a file?)"
            )

    def read(self, name: str) -> bytes | None:
        path = getattr(self, name)
        return pathlib.Path(path).read_bytes() if path else None

    def tls_config(self) -> TLSConfig | bool:
        """For ``temporalio.client.Client.connect(tls=...)``."""
        from temporalio.client import TLSConfig

        if not self.uses_tls:
            return False
        return TLSConfig(
            server_root_ca_cert=self.read("ca"),
            client_cert=self.read("cert"),
            client_private_key=self.read("key"),
            domain=self.server_name or None,
        )

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``Client.connect`` for this connection."""
        return {"tls": self.tls_config(), "api_key": self.api_key or None}

    def to_env(self) -> dict[str, str]:
        """The harness's variables, for a child process of the harness (certify runs
        the gate and the bench as children: secrets go by environment, not argv)."""
        values = dataclasses.asdict(self)
        return {
            s.env: ("1" if values[s.field] else "") if s.flag else str(values[s.field])
            for s in SETTINGS
        }


def from_env(env: Mapping[str, str]) -> Connection:
    """From ``HANDSHAKE_TEMPORAL_TLS_*`` (``harness.settings.environ`` has put the
    Temporal CLI's names there already)."""
    values: dict[str, Any] = {s.field: env.get(s.env, "") for s in SETTINGS}
    values["tls"] = _truthy(values["tls"])
    return Connection(**values)


def add_options(
    add: Callable[..., Any],
    env: Mapping[str, str],
    *,
    extra: Callable[[Setting], dict[str, Any]] | None = None,
) -> None:
    """Declare the options on an argparse parser or group (``parser.add_argument``) or a
    pytest group (``group.addoption``), defaulting to the environment (option wins).
    ``extra``: more keyword arguments per option (Locust: ``env_var``, ``is_secret``)."""
    default = from_env(env)
    for s in SETTINGS:
        envs = f"{s.env} or {s.temporal_envs[0]}"
        kwargs: dict[str, Any] = {
            "dest": s.dest,
            "default": getattr(default, s.field),
            "help": f"{s.meaning} (env {envs})",
        }
        if s.flag:
            kwargs["action"] = "store_true"
        kwargs.update(extra(s) if extra else {})
        add(s.option, **kwargs)


def from_options(options: object) -> Connection:
    """From parsed options (argparse namespace, ``pytest.Config.option``)."""

    def text(s: Setting) -> str:
        return str(getattr(options, s.dest, None) or "")

    return Connection(
        tls=bool(getattr(options, BY_FIELD["tls"].dest, False)),
        ca=text(BY_FIELD["ca"]),
        cert=text(BY_FIELD["cert"]),
        key=text(BY_FIELD["key"]),
        server_name=text(BY_FIELD["server_name"]),
        api_key=text(BY_FIELD["api_key"]),
    )


def host_of(address: str) -> str:
    """``host`` of ``host:port`` (``[::1]:7233`` too)."""
    host = address.rsplit(":", 1)[0]
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def server_name_for(connection: Connection, cluster_address: str) -> str:
    """The name a service must check in the cluster's certificate when it reaches the
    cluster through a proxy on another address: the configured one, else the host the
    user named. Empty for plain text."""
    if not connection.uses_tls:
        return ""
    return connection.server_name or host_of(cluster_address)


def classify(err: BaseException) -> TLSConnectError | None:
    """A connection error that is a TLS problem (it will not heal by retrying), as a
    ``TLSConnectError`` naming it; None for anything else."""
    text = f"{err!r} {err}"
    lowered = text.lower()
    signs = (
        "certificate",
        "unknownissuer",
        "invalidcertificate",
        "tls handshake",
        "handshake failed",
        "ssl",
        "alert",
        "corrupt message",
        "invalid peer",
        "invalidcontenttype",
        "badcertificate",
        "wrong version number",
    )
    if not any(sign in lowered for sign in signs):
        return None
    return TLSConnectError(f"{TLS_FAILED}: {text[:600]}")


def probe(address: str, connection: Connection, timeout_s: float = 10.0) -> None:
    """One TLS handshake with the cluster as the harness's clients will make it (CA,
    client certificate, server name, ALPN h2). A ``TLSConnectError`` when TLS itself
    fails; nothing when the address does not answer (a cluster still coming up is the
    stacks' wait, not a TLS problem). Plain ``ssl``: no gRPC runtime in the caller."""
    import socket

    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        context = ssl.create_default_context(cafile=connection.ca or None)
        if connection.cert:
            context.load_cert_chain(connection.cert, connection.key)
    except (OSError, ssl.SSLError) as err:
        raise TLSConnectError(f"{TLS_FAILED}: cannot load the TLS files: {err}") from None
    context.set_alpn_protocols(["h2"])
    try:
        raw = socket.create_connection((host, int(port)), timeout=timeout_s)
    except (OSError, ValueError):
        return
    try:
        with context.wrap_socket(raw, server_hostname=connection.server_name or host) as s:
            agreed = s.selected_alpn_protocol()
    except ssl.SSLError as err:  # includes SSLCertVerificationError
        raise TLSConnectError(f"{TLS_FAILED}: {err}\n{tls_hint(address, connection)}") from None
    except OSError:
        return
    finally:
        raw.close()
    if agreed != "h2":
        raise TLSConnectError(
            f"{TLS_FAILED}: {address} did not agree to HTTP/2 (ALPN h2; it chose {agreed!r}): "
            "gRPC clients refuse such a server. Is it a gRPC endpoint (a proxy in front "
            "needs http2 on its TLS listener)?"
        )


def tls_hint(address: str, connection: Connection) -> str:
    return (
        f"TLS to {address} failed ({connection.describe()}): check {BY_FIELD['ca'].option} "
        f"({BY_FIELD['ca'].env}) is the CA that signed the server's certificate, "
        f"{BY_FIELD['server_name'].option} matches a name in it, and for mTLS that the "
        "server accepts the client certificate"
    )


# -- the services' side --------------------------------------------------------------

# The contract's variables for one service's connection to Temporal (SERVICE is ZIGFLOW
# or STIGMA); declared in harness.contract, generated into docs/reference/contract.md.
SERVICE_SUFFIXES = {
    "tls": "TEMPORAL_TLS",
    "ca": "TEMPORAL_TLS_CA",
    "cert": "TEMPORAL_TLS_CERT",
    "key": "TEMPORAL_TLS_KEY",
    "server_name": "TEMPORAL_TLS_SERVER_NAME",
    "api_key": "TEMPORAL_API_KEY",
}


def service_env(service: str, connection: Connection, ca: str, server_name: str) -> dict[str, str]:
    """``ZIGFLOW_TEMPORAL_TLS_CA=...``: what ``service`` needs to reach the cluster (or
    the harness's relays in front of it): ``ca`` a bundle it must trust, ``server_name``
    the name it must check. Empty for plain text (the variables are then unset)."""
    if not connection.uses_tls:
        return {}
    prefix = service.upper() + "_"
    values = {
        "tls": "1",
        "ca": ca,
        "cert": connection.cert,
        "key": connection.key,
        "server_name": server_name,
        "api_key": connection.api_key,
    }
    return {prefix + SERVICE_SUFFIXES[k]: v for k, v in values.items() if v}


def service_options(
    add: Callable[..., Any], env: Mapping[str, str], service: str
) -> None:  # pragma: no cover - exercised by the reference services' own tests
    """The reference services' flags for the variables above (flag wins)."""
    prefix = service.upper() + "_"
    for s in SETTINGS:
        var = prefix + SERVICE_SUFFIXES[s.field]
        kwargs: dict[str, Any] = {"dest": s.dest, "help": f"{s.meaning} (env {var})"}
        if s.flag:
            kwargs.update(action="store_true", default=_truthy(env.get(var, "")))
        else:
            kwargs["default"] = env.get(var, "")
        add(s.option, **kwargs)


@dataclass(frozen=True)
class ServiceTLS:
    """TLS towards a deployed service's own gRPC (Stigma's StartAgent and health, a
    service's grpc.health.v1): the CA that signed its certificate (empty: the system's
    CAs), a client certificate and key when it asks for mTLS, and the name its
    certificate carries when the address does not (a port-forward, an IP)."""

    ca: str = ""
    cert: str = ""
    key: str = ""
    server_name: str = ""

    def describe(self) -> str:
        """For plans and messages: paths and names, never key material."""
        parts = [f"tls ca={self.ca or 'system'}", f"auth={'mTLS' if self.cert else 'none'}"]
        if self.server_name:
            parts.append(f"server-name={self.server_name}")
        return " ".join(parts)

    def problems(self) -> list[str]:
        """What is wrong with the settings (unreadable or non-PEM files, a certificate
        without its key): each a sentence naming the key to fix."""
        found: list[str] = []
        if bool(self.cert) != bool(self.key):
            given, missing = ("cert", "key") if self.cert else ("key", "cert")
            found.append(
                f"grpc-tls-{given} needs grpc-tls-{missing}: mTLS takes a client "
                "certificate and its key"
            )
        for name, path in (("ca", self.ca), ("cert", self.cert), ("key", self.key)):
            problem = _pem_problem(path, PEM_MARKERS[name])
            if problem:
                found.append(f"grpc-tls-{name} {path}: {problem}")
        return found


def service_channel(
    address: str, settings: ServiceTLS | None = None, options: Sequence[tuple[str, Any]] = ()
) -> grpc.aio.Channel:
    """The one way the harness opens a gRPC channel to a service (raw StartAgent probes,
    grpc.health.v1 Checks and Watches, the kill and pause checks): plain text, or TLS
    with ``settings`` (a deployed service that serves only TLS)."""
    import grpc  # not at import: the locustfile imports this module under gevent

    if settings is None:
        return grpc.aio.insecure_channel(address, options=list(options))

    def read(path: str) -> bytes | None:
        return pathlib.Path(path).read_bytes() if path else None

    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(settings.ca),
        private_key=read(settings.key),
        certificate_chain=read(settings.cert),
    )
    name = [("grpc.ssl_target_name_override", settings.server_name)] if settings.server_name else []
    return grpc.aio.secure_channel(address, credentials, options=[*options, *name])


# -- the harness's CA, for the relays that terminate TLS ------------------------------


def _openssl(*args: str, cwd: pathlib.Path) -> None:
    try:
        done = subprocess.run(
            ["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
        )
    except FileNotFoundError:
        raise ConfigError(
            "openssl not found: the harness makes its relays' TLS certificates with it "
            "(Debian: apt-get install openssl)"
        ) from None
    if done.returncode != 0:
        raise ConfigError(f"openssl {args[0]} failed: {done.stderr.strip()[-500:]}")


def system_cas() -> bytes:
    """The system's trusted CAs (a cluster with a public certificate, e.g. Temporal
    Cloud, and no --temporal-tls-ca): the services' bundle must still hold them."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            return pathlib.Path(candidate).read_bytes()
    try:
        import certifi

        return pathlib.Path(certifi.where()).read_bytes()
    except ImportError:
        raise ConfigError(
            "no system CA bundle found for TLS without --temporal-tls-ca: give the "
            "cluster's CA with --temporal-tls-ca (HANDSHAKE_TEMPORAL_TLS_CA)"
        ) from None


@dataclass
class HarnessCA:
    """A throwaway CA for one stack, in a private temporary directory removed at the
    stack's end, and a server certificate of it for the harness's relays."""

    directory: pathlib.Path
    ca_cert: pathlib.Path
    server_cert: pathlib.Path
    server_key: pathlib.Path
    bundle: pathlib.Path  # the cluster's CA(s) + this CA: what the services trust

    @classmethod
    def create(
        cls, names: Iterable[str], cluster_ca: bytes, parent: str | None = None
    ) -> HarnessCA:
        directory = pathlib.Path(tempfile.mkdtemp(prefix="handshake-tls-", dir=parent))
        sans = []
        for name in dict.fromkeys(n for n in names if n):
            try:
                ipaddress.ip_address(name)
                sans.append(f"IP:{name}")
            except ValueError:
                sans.append(f"DNS:{name}")
        _openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=handshake-harness relay CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            cwd=directory,
        )  # fmt: skip
        _openssl(
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "relay.key", "-out", "relay.csr", "-subj", "/CN=handshake-harness relay",
            cwd=directory,
        )  # fmt: skip
        (directory / "relay.ext").write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
            f"extendedKeyUsage=serverAuth\nsubjectAltName={','.join(sans)}\n"
        )
        _openssl(
            "x509", "-req", "-in", "relay.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "relay.pem", "-days", "2", "-extfile", "relay.ext",
            cwd=directory,
        )  # fmt: skip
        # The CA's key is not needed once the one certificate is issued.
        (directory / "ca.key").unlink()
        bundle = directory / "bundle.pem"
        own = (directory / "ca.pem").read_bytes()
        bundle.write_bytes(cluster_ca.rstrip(b"\n") + b"\n" + own)
        return cls(
            directory,
            directory / "ca.pem",
            directory / "relay.pem",
            directory / "relay.key",
            bundle,
        )

    def remove(self) -> None:
        for path in self.directory.iterdir():
            path.unlink()
        self.directory.rmdir()


# -- secrets must not leak ---------------------------------------------------------------


def secrets_of(connection: Connection) -> dict[str, bytes]:
    """What must never appear in an artefact: the API key, and the private key's
    material (each base64 line of its PEM body, as a log would quote it)."""
    found: dict[str, bytes] = {}
    if connection.api_key:
        found["api key"] = connection.api_key.encode()
    key = connection.read("key") if connection.key else None
    if key:
        body = [ln.strip() for ln in key.splitlines() if ln.strip() and b"-----" not in ln]
        for i, line in enumerate(body):
            if len(line) >= 16:
                found[f"private key line {i + 1}"] = line
    return found


def leaks(
    connection: Connection,
    roots: Iterable[pathlib.Path],
    texts: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """Where a secret of ``connection`` appears: ``(where, which)`` for every file under
    ``roots`` and every named text (a process's output)."""
    secrets = secrets_of(connection)
    hits: list[tuple[str, str]] = []

    def check(where: str, data: bytes) -> None:
        hits.extend((where, name) for name, secret in secrets.items() if secret in data)

    for root in roots:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            check(str(path), path.read_bytes())
    for where, text in (texts or {}).items():
        check(where, text.encode())
    return hits
