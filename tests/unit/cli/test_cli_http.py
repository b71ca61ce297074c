"""dcos.cli.http: the CLI's one HTTP client -- errors classified by exit code, SSE reading."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cli_fakes import free_port

from dcos.cli import http
from dcos.cli.errors import CliError, Rejected, TimedOut, Unreachable


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/events":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(b'event: deployment_success\ndata: {"id": "d1"}\n\n: comment\n'
                             b'data: {"eventType": "deployment_failed",\ndata: "id": "d2"}\n\n')
            return
        status, body = {"/ok": (200, b'{"a": 1}'), "/empty": (200, b""),
                        "/gone": (404, b'{"message": "no such app"}'),
                        "/boom": (500, b"internal\nmore"), "/text": (200, b"hello")}[self.path]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/standby":  # a standby master sends calls on to the leader
            self.send_response(307)
            self.send_header("Location", "/leader")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        out = b'{"path": "%s", "got": %s}' % (self.path.encode(), body)
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


@pytest.fixture
def server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def test_json_and_empty(server: str) -> None:
    assert http.request("GET", server + "/ok") == {"a": 1}
    assert http.request("GET", server + "/empty") is None
    assert http.get_json(server, "/ok") == {"a": 1}


def test_a_post_redirected_with_307_is_sent_on_with_its_body(server: str) -> None:
    assert http.request("POST", server + "/standby", {"uid": "admin"}) == {
        "path": "/leader", "got": {"uid": "admin"}}


def test_4xx_is_rejected_with_the_message(server: str) -> None:
    with pytest.raises(Rejected) as info:
        http.request("GET", server + "/gone")
    assert info.value.exit_code == 4 and info.value.status == 404
    assert info.value.message == f"GET {server}/gone answered 404: no such app"


def test_5xx_and_not_json_fail_with_1(server: str) -> None:
    with pytest.raises(CliError) as info:
        http.request("GET", server + "/boom")
    assert info.value.exit_code == 1 and info.value.message.endswith("answered 500: internal")
    with pytest.raises(CliError, match="did not answer JSON"):
        http.request("GET", server + "/text")
    assert http.get_json_or_none(server + "/boom") is None


def test_unreachable_is_3() -> None:
    port = free_port()
    with pytest.raises(Unreachable) as info:
        http.get_json(f"http://127.0.0.1:{port}", "/x", server="the webapp")
    assert info.value.exit_code == 3
    assert info.value.message == f"cannot reach the webapp at http://127.0.0.1:{port}: connection refused"


def test_no_answer_is_timed_out_5() -> None:
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(TimedOut) as info:
            http.request("GET", url + "/x", timeout=0.2)
    assert info.value.exit_code == 5 and "timed out" in info.value.message


def test_sse_events(server: str) -> None:
    attached = []
    events = list(http.sse_events(server + "/events", 5.0, on_attached=lambda: attached.append(1)))
    assert attached == [1]
    assert [(e.event, e.event_type) for e in events] == [
        ("deployment_success", "deployment_success"), ("message", "deployment_failed")]
    assert events[1].json() == {"eventType": "deployment_failed", "id": "d2"}
