"""docs/how-to/certify-staging.md, checked offline (no cluster here): every YAML block
parses as Kubernetes objects, and every profile on the page is a valid profile."""

from __future__ import annotations

import pathlib
import re
import tomllib
from typing import Any

import pytest
import yaml

from harness.target import profile

pytestmark = pytest.mark.unit

PAGE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "how-to" / "certify-staging.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", PAGE.read_text(), re.S | re.M)


def _objects() -> list[dict[str, Any]]:
    return [doc for block in _blocks("yaml") for doc in yaml.safe_load_all(block) if doc]


def test_every_yaml_block_is_kubernetes_objects() -> None:
    objects = _objects()
    kinds = sorted(o["kind"] for o in objects)
    # the Toxiproxy, the hooks' RBAC, the Job (with its profile as a ConfigMap)
    proxy = ["Deployment", "ConfigMap", "Service"]
    rbac = ["ServiceAccount", "Role", "RoleBinding"]
    assert kinds == sorted([*proxy, *rbac, "Job", "ConfigMap"])
    for o in objects:
        assert o["apiVersion"], o
        assert o["metadata"]["namespace"] == "handshake-cert", o["metadata"]


def _profiles_on_the_page() -> list[tuple[str, Any]]:
    found = []
    for block in _blocks("toml"):
        data = tomllib.loads(block)
        found.append(("toml block", data["tool"]["handshake"]["targets"]))
    for o in _objects():
        if o["kind"] == "ConfigMap" and "handshake.toml" in o["data"]:
            found.append(("Job's ConfigMap", tomllib.loads(o["data"]["handshake.toml"])["targets"]))
    return found


def test_every_profile_on_the_page_is_valid() -> None:
    found = _profiles_on_the_page()
    assert len(found) == 2
    for _, targets in found:
        staging = profile.parse_all(targets)["staging"]
        assert staging.stigma.can_kill


def test_the_proxies_match_the_toxiproxy_config_and_the_rbac_covers_the_hooks() -> None:
    objects = _objects()
    config = next(o for o in objects if o["metadata"]["name"] == "toxiproxy-config")
    names = {p["name"] for p in yaml.safe_load(config["data"]["toxiproxy.json"])}
    staging = profile.parse_all(_profiles_on_the_page()[0][1])["staging"]
    assert staging.toxiproxy is not None
    assert set(staging.toxiproxy.proxies.values()) == names
    role = next(o for o in objects if o["kind"] == "Role")
    verbs = {(r, v) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]}
    for needed in [("pods", "delete"), ("deployments", "patch"), ("replicasets", "list")]:
        assert needed in verbs
