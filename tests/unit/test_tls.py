"""The TLS connection settings: one set of names, clear errors, nothing secret shown."""

from __future__ import annotations

import argparse
import pathlib
import ssl
import subprocess

import pytest

from harness import settings, tls
from harness.config import StackConfig
from harness.errors import ConfigError
from harness.judge import log_checks
from harness.load import target

pytestmark = pytest.mark.unit

KEY = "sk-live-do-not-print-0123456789"


def _pem(path: pathlib.Path, kind: str) -> str:
    path.write_text(f"-----BEGIN {kind}-----\nQUJD\n-----END {kind}-----\n")
    return str(path)


def test_the_harness_names_then_the_temporal_cli_names_for_every_command(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no config file
    env = {"TEMPORAL_TLS_SERVER_CA_CERT_PATH": "cli.pem", "HANDSHAKE_TEMPORAL_API_KEY": KEY}
    # tls reads the harness's names only; the settings layer has put the CLI's there.
    assert tls.from_env(env) == tls.Connection(api_key=KEY)
    assert tls.from_env(settings.environ(env)).ca == "cli.pem"
    both = settings.environ({**env, "HANDSHAKE_TEMPORAL_TLS_CA": "mine.pem"})
    assert tls.from_env(both).ca == "mine.pem"  # the harness's name wins
    assert target.from_env(settings.environ({"TEMPORAL_TLS": "true"})).uses_tls
    assert not target.from_env(settings.environ({"TEMPORAL_TLS": "false"})).uses_tls


def test_options_default_to_the_environment_and_round_trip() -> None:
    parser = argparse.ArgumentParser()
    tls.add_options(parser.add_argument, {"HANDSHAKE_TEMPORAL_TLS_SERVER_NAME": "t.example"})
    args = parser.parse_args(["--temporal-tls-ca", "ca.pem", "--temporal-api-key", KEY])
    got = tls.from_options(args)
    assert got == tls.Connection(ca="ca.pem", server_name="t.example", api_key=KEY)
    assert tls.from_env(got.to_env()) == got


def test_nothing_shown_holds_the_key() -> None:
    c = tls.Connection(ca="ca.pem", api_key=KEY)
    for shown in (c.describe(), repr(c), str(StackConfig(temporal="h:1", connection=c))):
        assert KEY not in shown
    assert "auth=api-key" in c.describe()


@pytest.mark.parametrize(
    ("connection", "says"),
    [
        (tls.Connection(cert="c.pem"), "--temporal-tls-cert needs --temporal-tls-key"),
        (tls.Connection(ca="/nonexistent/ca.pem"), "--temporal-tls-ca (HANDSHAKE_TEMPORAL_TLS_CA)"),
        (tls.Connection(api_key=KEY + "\n"), "whitespace"),
    ],
)
def test_bad_settings_say_what_to_fix(connection: tls.Connection, says: str) -> None:
    with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace(")", r"\)")) as err:
        connection.validate()
    assert KEY not in str(err.value)


def test_a_file_that_is_not_pem_is_refused(tmp_path: pathlib.Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="not a PEM file"):
        tls.Connection(ca=str(tmp_path / "ca.pem")).validate()
    tls.Connection(
        ca=_pem(tmp_path / "good.pem", "CERTIFICATE"),
        cert=_pem(tmp_path / "c.pem", "CERTIFICATE"),
        key=_pem(tmp_path / "k.pem", "PRIVATE KEY"),
    ).validate()


def test_tls_needs_a_cluster_not_an_embedded_server() -> None:
    with pytest.raises(ConfigError, match="need --temporal HOST:PORT"):
        StackConfig(temporal="dev", connection=tls.Connection(tls=True)).validate()
    StackConfig(temporal="temporal.example:7233", connection=tls.Connection(tls=True)).validate()


def test_services_check_the_clusters_name_behind_a_proxy() -> None:
    c = tls.Connection(ca="ca.pem", api_key=KEY)
    assert tls.server_name_for(c, "temporal.example:7233") == "temporal.example"
    assert tls.server_name_for(c, "[::1]:7233") == "::1"
    assert tls.server_name_for(tls.Connection(tls=True, server_name="x"), "h:1") == "x"
    assert tls.server_name_for(tls.Connection(), "h:1") == ""
    env = tls.service_env("stigma", c, "bundle.pem", "temporal.example")
    assert env == {
        "STIGMA_TEMPORAL_TLS": "1",
        "STIGMA_TEMPORAL_TLS_CA": "bundle.pem",
        "STIGMA_TEMPORAL_TLS_SERVER_NAME": "temporal.example",
        "STIGMA_TEMPORAL_API_KEY": KEY,
    }
    assert tls.service_env("zigflow", tls.Connection(), "", "") == {}


def test_tls_errors_are_told_apart_from_a_cluster_not_up_yet() -> None:
    wrong_ca = RuntimeError(
        "Failed client connect: Server connection error: tonic::transport::Error(Transport, "
        "Custom { kind: InvalidData, error: InvalidCertificate(UnknownIssuer) })"
    )
    problem = tls.classify(wrong_ca)
    assert problem is not None
    assert str(problem).startswith(tls.TLS_FAILED)
    assert tls.classify(RuntimeError("Connection refused (os error 111)")) is None


def test_the_harness_ca_issues_a_relay_certificate_the_bundle_verifies(
    tmp_path: pathlib.Path,
) -> None:
    cluster = tls.HarnessCA.create(["127.0.0.1"], b"", parent=str(tmp_path))
    ca = tls.HarnessCA.create(
        ["127.0.0.1", "localhost", "temporal.example"],
        cluster.ca_cert.read_bytes(),
        parent=str(tmp_path),
    )
    assert not (ca.directory / "ca.key").exists()  # nothing left that could sign more
    bundle = ca.bundle.read_bytes()
    assert cluster.ca_cert.read_bytes().strip() in bundle
    assert ca.ca_cert.read_bytes().strip() in bundle
    done = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca.bundle), "-verify_hostname",
         "temporal.example", str(ca.server_cert)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    context = ssl.create_default_context(cafile=str(ca.bundle))
    assert len(context.get_ca_certs()) == 2
    ca.remove()
    assert not ca.directory.exists()


def test_leaks_finds_the_key_and_private_key_lines(tmp_path: pathlib.Path) -> None:
    key = tmp_path / "client.key"
    key.write_text(
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nAAAA\n"
        "-----END PRIVATE KEY-----\n"
    )
    c = tls.Connection(cert="c.pem", key=str(key), api_key=KEY)
    out = tmp_path / "out"
    out.mkdir()
    (out / "clean.log").write_text("connected tls auth=api-key")
    assert tls.leaks(c, [out], {"stdout": "nothing"}) == []
    (out / "dirty.log").write_text("debug: key MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")
    assert tls.leaks(c, [out], {"stdout": f"--temporal-api-key {KEY}"}) == [
        (str(out / "dirty.log"), "private key line 1"),
        ("stdout", "api key"),
    ]


def test_certify_hands_the_settings_to_a_cluster_run_by_environment_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness import certify

    monkeypatch.setenv("HANDSHAKE_TEMPORAL_API_KEY", KEY)
    args = argparse.Namespace(
        temporal_api_key=KEY, temporal_tls_ca="ca.pem", temporal_tls=False, namespace="cert"
    )
    cluster = certify._child_env("temporal.example:7233", args)
    assert cluster["HANDSHAKE_TEMPORAL_API_KEY"] == KEY
    assert cluster["HANDSHAKE_TEMPORAL_TLS_CA"] == "ca.pem"
    # The namespace the report records is the one the children run in.
    assert cluster["HANDSHAKE_NAMESPACE"] == "cert"
    # The embedded servers speak plain text: blank values also beat a config file's.
    embedded = certify._child_env("dev", args)
    assert embedded["HANDSHAKE_TEMPORAL_API_KEY"] == ""
    assert embedded["HANDSHAKE_TEMPORAL_TLS_CA"] == ""


def test_a_service_log_with_the_api_key_violates_no_secret_in_logs(tmp_path: pathlib.Path) -> None:
    clean, dirty = tmp_path / "zigflow.1.log", tmp_path / "stigma.1.log"
    clean.write_text('{"event": "zigflow.ready", "temporal_tls": "tls auth=api-key"}\n')
    dirty.write_text(f'{{"event": "config", "api_key": "{KEY}"}}\n')
    c = tls.Connection(api_key=KEY)
    ok = log_checks.no_secret_in_logs(c, [clean])
    assert ok is not None
    assert ok.ok
    bad = log_checks.no_secret_in_logs(c, [clean, dirty])
    assert bad is not None
    assert not bad.ok
    assert bad.evidence == [f"{dirty}: the api key"]
    assert KEY not in str(bad)
    assert log_checks.no_secret_in_logs(tls.Connection(ca="ca.pem"), [dirty]) is None
