"""The dry run: what a run on a deployed target would do, and what it cannot certify.

``render`` is pure: it reads the profile and the needs table and touches nothing (no
hook invoked, no connection made, no toxic added), which ``handshake target plan``
and, later, ``certify --target NAME --dry-run`` print. Every line is masked for the
profile's secrets, though none should reach it: commands are shown after placeholder
expansion, and the API key is never a placeholder.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping

from harness import contract
from harness.target import needs as scenario_needs
from harness.target.hooks import expand, mask
from harness.target.profile import SERVICES, Profile


def workflow_ids(run_id: str) -> str:
    """The ids a run's workflows take: the run's id in each, so a run's leftovers are
    found (and told apart from another run's) by a prefix."""
    return f"zig-{run_id}-*"


def _names(profile: Profile) -> contract.Names:
    # A copy: harness.contract.configure changes the process-wide names, and a plan
    # must change nothing.
    return dataclasses.replace(contract.Names(), **profile.contract_names)


def _hook_line(profile: Profile, run_id: str, service: str, hook: str) -> str:
    command = getattr(profile.hooks(service), hook)
    return f"{service}.{hook}: " + shlex.join(
        expand(command, profile.placeholders(run_id, service))
    )


def render(profile: Profile, *, run_id: str, env: Mapping[str, str] | None = None) -> str:
    """The plan of a run on ``profile``'s target, as text."""
    names = _names(profile)
    have = scenario_needs.provided(profile)
    assessed = scenario_needs.assess(have)
    runs = [a for a in assessed if a.runs]
    lines = [
        f"handshake target plan {profile.name}: a dry run (no hook invoked, no toxic added, "
        "no workflow started)",
        f"  run id      {run_id}",
        f"  temporal    {profile.temporal} namespace {profile.namespace} "
        f"(allowed: {', '.join(profile.allowed_namespaces)}); "
        f"{profile.connection(env).describe()}",
    ]
    if profile.zigflow_level == "workflow":
        lines.append(
            f"  workflows   {names.zigflow_workflow} on task queue {profile.zigflow_task_queue}, "
            f"ids {workflow_ids(run_id)}"
        )
    else:
        lines.append(
            f"  workflows   the harness's plan workflow on its own task queue, scheduling "
            f"{names.zigflow_agent_activity} on {profile.zigflow_task_queue}, "
            f"ids {workflow_ids(run_id)}"
        )
    lines.append(
        f"  agents      {names.stigma_agent_activity} served by the harness on "
        f"{profile.agent_task_queue}"
    )
    stigma_tls = profile.grpc_tls("stigma")
    lines.append(
        f"  stigma      {profile.stigma_address or 'no address (no direct probes)'}"
        + (f" ({stigma_tls.describe()})" if profile.stigma_address and stigma_tls else "")
    )
    proxies = profile.toxiproxy.proxies if profile.toxiproxy else {}
    if profile.toxiproxy:
        named = ", ".join(f"{link} -> {name}" for link, name in proxies.items()) or "none"
        lines.append(f"  toxiproxy   {profile.toxiproxy.admin_url} ({named})")
    else:
        lines.append("  toxiproxy   none (no network faults)")
    for service in SERVICES:
        hooks = profile.hooks(service).commands()
        if not hooks:
            lines.append(f"  {service:<11} no hooks (no process faults)")
        for hook in hooks:
            lines.append(f"  hook        {_hook_line(profile, run_id, service, hook)}")
        if profile.hooks(service).ready_grpc_health:
            address = profile.hooks(service).ready_grpc_health
            lines.append(f"  hook        {service}.ready: grpc.health {address}")
    lines += [
        "",
        f"scenarios: {len(runs)} would run, {len(assessed) - len(runs)} not certified "
        "on this target",
    ]
    for a in assessed:
        if not a.runs:
            lines.append(f"  NOT CERTIFIED  {a.test}: needs {', '.join(a.missing)}")
            continue
        lines.append(f"  run            {a.test}")
        used = a.needs.hooks()
        if used:
            lines.append(f"                   hooks: {', '.join(used)}")
        for toxic in a.needs.toxics:
            link = toxic.split(":", 1)[0]
            lines.append(f"                   toxic via proxy {proxies.get(link, '?')}: {toxic}")
        if a.needs.note:
            lines.append(f"                   note: {a.needs.note}")
    return mask("\n".join(lines), profile.secrets(env))
