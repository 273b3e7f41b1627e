"""The target profile: where a deployed Zigflow and Stigma run, and how to fault them.

A profile is a table of the config file, beside the harness's other settings::

    [tool.handshake.targets.staging]          # pyproject.toml ([targets.staging] in handshake.toml)
    temporal = "temporal.staging.internal:7233"
    namespace = "handshake-cert"
    allowed-namespaces = ["handshake-cert"]
    temporal-tls-ca = "/etc/handshake/ca.pem"
    zigflow-task-queue = "zigflow-cert"
    agent-task-queue = "stigma-agents-cert"

    [tool.handshake.targets.staging.stigma]
    kill = "kubectl -n {kube_namespace} delete pod -l app=stigma --wait=false"
    ready = "kubectl -n {kube_namespace} rollout status deploy/stigma --timeout=120s"

It is strict for the reason the rest of the file is: a misspelled key must stop the
run, not quietly drop a safety rail (an allow-list, a hook). Keys take dashes or
underscores, as the file's other keys do; an unknown key is an error naming the
nearest valid one.

The API key is never read from the file (a file is committed, copied, printed): the
profile names the environment variable that holds it (``temporal-api-key-env``).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import shlex
import string
from collections.abc import Iterator, Mapping
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness import contract, tls
from harness.errors import ConfigError

SERVICES = ("zigflow", "stigma")
# The links of a stack (harness.links.network.LINKS; not imported: that layer is above).
Link = Literal["stigma_grpc", "zigflow_temporal", "stigma_temporal"]
LINKS: tuple[str, ...] = get_args(Link)
HOOKS = ("kill", "start", "restart", "pause", "resume", "ready")
DEFAULT_API_KEY_ENV = tls.BY_FIELD["api_key"].env
# Placeholders every hook may use; a profile's ``vars`` adds its own.
BUILTIN_PLACEHOLDERS = {
    "target": "the profile's name",
    "service": "zigflow or stigma: whose hook runs",
    "namespace": "the Temporal namespace",
    "temporal_address": "the Temporal frontend host:port",
    "zigflow_task_queue": "Zigflow's task queue",
    "agent_task_queue": "the agent task queue (served by the harness)",
    "run_id": "the run's id (in every workflow id the run starts)",
}


class _Strict(BaseModel):
    # strict: a TOML string is never coerced into a number or a bool.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _placeholders(command: str) -> list[str]:
    """The ``{name}`` fields of a command line (``{{`` is a literal brace)."""
    try:
        return [field for _, field, _, _ in string.Formatter().parse(command) if field is not None]
    except ValueError as err:
        raise ValueError(f"{command!r}: {err} (write a literal brace as {{{{ or }}}})") from None


class ServiceHooks(_Strict):
    """How to fault one deployed service and to know it is back. Each a command line
    (run without a shell; placeholders allowed), each optional."""

    kill: str | None = None
    start: str | None = None
    restart: str | None = None
    pause: str | None = None
    resume: str | None = None
    # Ready again: a command that exits 0 once the service serves, or the host:port of
    # its grpc.health.v1 (SERVING), as the contract asks of every service.
    ready: str | None = None
    ready_grpc_health: str | None = None
    ready_timeout_s: float = Field(default=180.0, gt=0)
    ready_interval_s: float = Field(default=2.0, gt=0)
    hook_timeout_s: float = Field(default=120.0, gt=0)
    # TLS on the service's own gRPC, for every connection the harness opens to it
    # (stigma-address, ready-grpc-health): a Stigma that serves only TLS, since the
    # tokens it carries are capabilities. Any grpc-tls-* key turns it on.
    grpc_tls: bool = False
    grpc_tls_ca: str = ""
    grpc_tls_cert: str = ""
    grpc_tls_key: str = ""
    grpc_tls_server_name: str = ""

    @model_validator(mode="after")
    def _complete(self) -> ServiceHooks:
        # A fault the harness cannot undo, or whose undo it cannot see finish, would
        # leave staging broken after the run: refused here, before anything runs.
        if self.ready and self.ready_grpc_health:
            raise ValueError("give ready (a command) or ready-grpc-health (an address), not both")
        if self.kill and not (self.start or self.restart):
            raise ValueError("kill needs start or restart: the harness brings back what it kills")
        if (self.kill or self.start or self.restart) and not self.readiness:
            raise ValueError(
                "kill, start and restart need ready or ready-grpc-health: the harness "
                "waits until the service serves again"
            )
        if bool(self.pause) != bool(self.resume):
            raise ValueError("pause and resume go together: the harness resumes what it pauses")
        for name in HOOKS:
            command = getattr(self, name)
            if command is not None and not _argv_or_none(command):
                raise ValueError(f"{name}: an empty command line")
        tls_settings = self.service_tls
        problems = tls_settings.problems() if tls_settings else []
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def service_tls(self) -> tls.ServiceTLS | None:
        """TLS towards the service's gRPC, or None (plain text)."""
        given = (self.grpc_tls_ca, self.grpc_tls_cert, self.grpc_tls_key, self.grpc_tls_server_name)
        if not (self.grpc_tls or any(given)):
            return None
        return tls.ServiceTLS(*given)

    @property
    def readiness(self) -> str | None:
        """How readiness is known, for messages: the command or the health address."""
        if self.ready:
            return self.ready
        return f"grpc.health {self.ready_grpc_health}" if self.ready_grpc_health else None

    def commands(self) -> dict[str, str]:
        """The hooks set, by name (``ready`` included when it is a command)."""
        return {name: getattr(self, name) for name in HOOKS if getattr(self, name)}

    @property
    def can_kill(self) -> bool:
        return bool(self.kill and (self.start or self.restart) and self.readiness)

    @property
    def can_pause(self) -> bool:
        return bool(self.pause and self.resume)


def _argv_or_none(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return []


class Toxiproxy(_Strict):
    """A Toxiproxy already in the deployed paths: its admin API, and per link the name
    of the proxy that carries it."""

    admin_url: str
    proxies: dict[str, str] = Field(default_factory=dict)  # link -> the proxy's name

    @model_validator(mode="after")
    def _url(self) -> Toxiproxy:
        host, port = admin_host_port(self.admin_url)
        if not host or port <= 0:
            raise ValueError(f"admin-url {self.admin_url!r}: expected http://HOST:PORT")
        for link in self.proxies:
            if link not in LINKS:
                raise ValueError(f"proxies.{link}: {_unknown(link, list(LINKS), 'link')}")
        return self


def admin_host_port(url: str) -> tuple[str, int]:
    """``http://host:8474`` -> (host, 8474); (``""``, 0) when it is not such a URL."""
    bare = url.removeprefix("http://").rstrip("/")
    if url == bare or "/" in bare:
        return "", 0
    host, _, port = bare.rpartition(":")
    return (host.strip("[]"), int(port)) if port.isdigit() else ("", 0)


class Metrics(_Strict):
    """Prometheus /metrics URLs of the deployed services (optional evidence)."""

    zigflow: str | None = None
    stigma: str | None = None


class Profile(_Strict):
    """One deployed target."""

    name: str
    # The Temporal connection: the keys of the harness's own settings (harness.tls).
    temporal: str
    namespace: str
    allowed_namespaces: list[str] = Field(min_length=1)
    temporal_tls: bool = False
    temporal_tls_ca: str = ""
    temporal_tls_cert: str = ""
    temporal_tls_key: str = ""
    temporal_tls_server_name: str = ""
    temporal_api_key_env: str = DEFAULT_API_KEY_ENV
    # Zigflow as deployed.
    zigflow_level: Literal["workflow", "activity"] = "workflow"
    zigflow_task_queue: str
    zigflow_max_concurrent_activities: int | None = Field(default=None, gt=0)
    contract_names: dict[str, str] = Field(default_factory=dict)
    # Stigma as deployed.
    stigma_address: str | None = None
    agent_task_queue: str
    metrics: Metrics = Field(default_factory=Metrics)
    toxiproxy: Toxiproxy | None = None
    vars: dict[str, str] = Field(default_factory=dict)
    zigflow: ServiceHooks = Field(default_factory=ServiceHooks)
    stigma: ServiceHooks = Field(default_factory=ServiceHooks)

    @model_validator(mode="after")
    def _safe(self) -> Profile:
        if self.namespace not in self.allowed_namespaces:
            raise ValueError(
                f"namespace {self.namespace!r} is not in allowed-namespaces "
                f"{self.allowed_namespaces}: the harness runs only where it was allowed"
            )
        if ":" not in self.temporal:
            raise ValueError(f"temporal {self.temporal!r}: expected HOST:PORT")
        known = {f.name for f in dataclasses.fields(contract.Names)}
        for key, value in self.contract_names.items():
            if key not in known:
                raise ValueError(f"contract-names.{key}: {_unknown(key, known, 'contract name')}")
            if not value.strip():
                raise ValueError(f"contract-names.{key}: an empty name")
        clash = sorted(set(self.vars) & set(BUILTIN_PLACEHOLDERS))
        if clash:
            raise ValueError(f"vars {clash}: built-in placeholders, not to be redefined")
        names = set(BUILTIN_PLACEHOLDERS) | set(self.vars)
        for service in SERVICES:
            for hook, command in self.hooks(service).commands().items():
                for field in _placeholders(command):
                    if field not in names:
                        raise ValueError(
                            f"{service}.{hook}: placeholder {{{field}}}: "
                            + _unknown(field, names, "placeholder")
                            + " (vars adds your own)"
                        )
        return self

    def hooks(self, service: str) -> ServiceHooks:
        hooks: ServiceHooks = getattr(self, service)
        return hooks

    def health_address(self, service: str) -> str | None:
        """Where the harness sees a kill or a pause of ``service`` land: the host:port
        of its grpc.health.v1 (``ready-grpc-health``; for Stigma, else
        ``stigma-address``, the port it serves StartAgent and its health on). None:
        nowhere."""
        hooks = self.hooks(service)
        if hooks.ready_grpc_health:
            return hooks.ready_grpc_health
        return self.stigma_address if service == "stigma" else None

    def grpc_tls(self, service: str) -> tls.ServiceTLS | None:
        """TLS towards ``service``'s own gRPC (its ``grpc-tls-*`` keys), or None."""
        return self.hooks(service).service_tls

    def can_kill(self, service: str) -> bool:
        """A kill the harness can make, see land, and undo: a kill hook with start or
        restart and readiness (``ServiceHooks.can_kill``), and a health address to watch
        (``health_address``). A kill hook that exits 0 and kills nothing (a selector
        that matches no pod) would otherwise pass every kill scenario unharmed."""
        return self.hooks(service).can_kill and self.health_address(service) is not None

    def can_pause(self, service: str) -> bool:
        """A pause the harness can make, see land and see undone: pause and resume
        hooks, and a health address that stops answering while the service is frozen
        (``health_address``). A pause hook that freezes nothing would otherwise pass
        every pause scenario unharmed."""
        return self.hooks(service).can_pause and self.health_address(service) is not None

    def placeholders(self, run_id: str, service: str) -> dict[str, str]:
        """What ``{name}`` stands for in ``service``'s hooks on run ``run_id``."""
        return {
            **self.vars,
            "target": self.name,
            "service": service,
            "namespace": self.namespace,
            "temporal_address": self.temporal,
            "zigflow_task_queue": self.zigflow_task_queue,
            "agent_task_queue": self.agent_task_queue,
            "run_id": run_id,
        }

    def connection(self, env: Mapping[str, str] | None = None) -> tls.Connection:
        """The TLS settings of the profile, with the API key from the environment."""
        environment = os.environ if env is None else env
        return tls.Connection(
            tls=self.temporal_tls,
            ca=self.temporal_tls_ca,
            cert=self.temporal_tls_cert,
            key=self.temporal_tls_key,
            server_name=self.temporal_tls_server_name,
            api_key=environment.get(self.temporal_api_key_env, ""),
        )

    def secrets(self, env: Mapping[str, str] | None = None) -> list[str]:
        """Values no printed line, record or report may hold: the API key."""
        key = self.connection(env).api_key
        return [key] if key else []

    def contract_overrides(self) -> list[str]:
        """``KEY=VALUE`` items for ``harness.contract.configure``."""
        return [f"{k}={v}" for k, v in sorted(self.contract_names.items())]


def _unknown(key: str, known: set[str] | list[str], what: str = "key") -> str:
    near = difflib.get_close_matches(key, sorted(known), n=1)
    return f"unknown {what}; did you mean {near[0]}?" if near else f"unknown {what}"


# -- reading a profile from the config file's table ------------------------------------


def _dashed(key: str) -> str:
    return key.replace("_", "-")


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model class a field holds (``ServiceHooks``, ``Toxiproxy | None``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _normalised(model: type[BaseModel], table: Any, path: str) -> Any:
    """``table`` with its keys in the fields' form (underscores), every key checked:
    an unknown key, or a key given in both forms, is a ConfigError naming it."""
    if not isinstance(table, dict):
        return table  # pydantic names the wrong type
    fields = model.model_fields
    out: dict[str, Any] = {}
    for key, value in table.items():
        field = key.replace("-", "_")
        where = f"{path}.{key}"
        if field not in fields or field == "name":
            shown = {_dashed(f) for f in fields if f != "name"}
            hint = _unknown(_dashed(key), shown)
            if model is Profile and _dashed(key) == "temporal-api-key":
                hint = (
                    "the API key is never read from the file: put it in the environment, "
                    f"in {DEFAULT_API_KEY_ENV} or the variable temporal-api-key-env names"
                )
            raise ConfigError(f"{where}: {hint}")
        if field in out:
            raise ConfigError(f"{where}: given twice (with dashes and with underscores)")
        annotation = fields[field].annotation
        inner = _model_of(annotation)
        if inner is not None and get_origin(annotation) is not dict:
            value = _normalised(inner, value, where)
        out[field] = value
    return out


def _fields(model: type[BaseModel]) -> set[str]:
    names = set(model.model_fields)
    for info in model.model_fields.values():
        inner = _model_of(info.annotation)
        if inner is not None:
            names |= _fields(inner)
    return names


def _location(path: str, loc: tuple[int | str, ...]) -> str:
    """``targets.staging.stigma.ready-timeout-s``: field names as the file spells them;
    a user's own keys (vars, proxies) as given."""
    fields = _fields(Profile)
    parts = [path]
    for item in loc:
        if isinstance(item, int):
            parts[-1] += f"[{item}]"
        elif item != "[key]":
            parts.append(_dashed(item) if item in fields else item)
    return ".".join(parts)


def parse(name: str, table: Any, where: str = "") -> Profile:
    """The profile ``name`` from its table; a ConfigError naming ``where`` (the file),
    the key and what is wrong. Values are never quoted back (a team may have put a
    secret where it does not belong)."""
    prefix = f"{where} " if where else ""
    path = f"targets.{name}"
    if not isinstance(table, dict):
        raise ConfigError(f"{prefix}{path}: must be a table, not {type(table).__name__}")
    try:
        data = _normalised(Profile, table, path)
        return Profile.model_validate({**data, "name": name})
    except ConfigError as err:
        raise ConfigError(f"{prefix}{err}") from None
    except ValidationError as err:
        problems = []
        for e in err.errors(include_url=False, include_input=False):
            loc = tuple(x for x in e["loc"] if x != "name")
            message = str(e["msg"]).removeprefix("Value error, ")
            problems.append(f"{_location(path, loc)}: {message}")
        raise ConfigError(prefix + "; ".join(problems)) from None


def parse_all(table: Any, where: str = "") -> dict[str, Profile]:
    """Every profile of a ``targets`` table."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} targets: must be a table of profiles".strip())
    return {name: parse(name, value, where) for name, value in table.items()}


def iter_commands(profile: Profile) -> Iterator[tuple[str, str, str]]:
    """(service, hook, command line) of every hook the profile sets."""
    for service in SERVICES:
        for hook, command in profile.hooks(service).commands().items():
            yield service, hook, command


def load(name: str) -> Profile:
    """The profile ``name`` of the config file in use (``harness.settings``)."""
    from harness import settings  # settings validates profiles with this module

    found = settings.target_profiles()
    if name not in found.profiles:
        where = found.path or "no config file (handshake.toml or [tool.handshake])"
        known = ", ".join(sorted(found.profiles)) or "none"
        near = difflib.get_close_matches(name, sorted(found.profiles), n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
        raise ConfigError(f"target {name!r}: no such profile in {where} (profiles: {known}){hint}")
    return found.profiles[name]
