"""The one adapter over toxiproxy-python: timeouts, 5xx as errors, faults that undo."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from harness.links.network import Network
from harness.observe.history import History
from harness.servers.toxiproxy import ProxyInfo, ToxiproxyAPI, ToxiproxyError

pytestmark = pytest.mark.unit


class _Handler(http.server.BaseHTTPRequestHandler):
    mode = "500"

    def do_GET(self) -> None:
        if self.mode == "hang":
            threading.Event().wait(3)  # longer than the adapter's timeout
        self.send_response(500)
        self.end_headers()
        self.wfile.write(b'{"error":"boom"}')

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        del args


@pytest.fixture
def fake_api() -> Iterator[tuple[http.server.ThreadingHTTPServer, int]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, server.server_address[1]
    server.shutdown()
    server.server_close()


async def test_a_5xx_answer_is_an_error_not_silence(fake_api: Any) -> None:
    _Handler.mode = "500"
    api = ToxiproxyAPI("127.0.0.1", fake_api[1])
    with pytest.raises(ToxiproxyError, match="answered 500"):
        await api.call("POST", "/proxies/x/toxics", {"name": "t"})


async def test_every_control_call_has_a_timeout(fake_api: Any) -> None:
    _Handler.mode = "hang"
    api = ToxiproxyAPI("127.0.0.1", fake_api[1], timeout_s=0.3)
    with pytest.raises(ToxiproxyError, match="failed"):
        await api.call("GET", "/proxies")


class _RecordingAPI:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    async def add_toxic(self, proxy: str, toxic: dict[str, Any]) -> None:
        self.calls.append(("add", proxy, toxic["name"]))

    async def remove_toxic(self, proxy: str, name: str) -> None:
        self.calls.append(("remove", proxy, name))

    async def set_enabled(self, proxy: str, enabled: bool) -> None:
        self.calls.append(("enabled", proxy, str(enabled)))


async def test_faults_undo_themselves_when_the_block_fails() -> None:
    api = _RecordingAPI()
    net = Network(api, {"stigma_grpc": ProxyInfo("stigma_grpc-r1", "l", "u")}, "2.12.0")  # type: ignore[arg-type]
    history = History("t")
    with pytest.raises(RuntimeError):
        async with net.toxic(history, "stigma_grpc", "latency", latency=10):
            raise RuntimeError("scenario blew up")
    with pytest.raises(RuntimeError):
        async with net.down(history, "stigma_grpc"):
            raise RuntimeError("scenario blew up")
    kinds = [c[0] for c in api.calls]
    assert kinds == ["add", "remove", "enabled", "enabled"]
    assert api.calls[-1] == ("enabled", "stigma_grpc-r1", "True")
    assert [(f.phase, f.name) for f in history.faults] == [
        ("start", "toxic:latency"),
        ("stop", "toxic:latency"),
        ("start", "link_down"),
        ("stop", "link_down"),
    ]
    assert [f["toxic"] for f in net.injected] == ["latency", "down"]


async def test_unknown_links_and_toxics_are_refused_with_the_choices() -> None:
    net = Network(_RecordingAPI(), {"stigma_grpc": ProxyInfo("p", "l", "u")}, "v")  # type: ignore[arg-type]
    with pytest.raises(Exception, match="links are stigma_grpc"):
        async with net.down(History("t"), "nope"):
            pass
    with pytest.raises(Exception, match="expected one of"):
        async with net.toxic(History("t"), "stigma_grpc", "lightning"):
            pass


def test_version_is_read_from_the_json_body_of_v2_12_and_the_bare_text_of_older_servers() -> None:
    from harness.servers.toxiproxy import _version_of

    assert _version_of('{"version": "2.12.0"}\n') == "2.12.0"
    assert _version_of("2.5.0\n") == "2.5.0"
    assert _version_of("git") == "git"
