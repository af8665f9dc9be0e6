"""FakeServer lifecycle: start, stop, restart, ports, subprocesses and the pytest fixture."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time

import httpx
import pytest
from _fakeserver_support import Raw

from plugbay.testing.server import FakeServer, Reply

pytest_plugins = ("pytester",)


@pytest.mark.timeout(10)
def test_url_is_loopback_with_os_port() -> None:
    server = FakeServer()
    with pytest.raises(RuntimeError):
        server.url  # noqa: B018
    with server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        assert server.port > 0


@pytest.mark.timeout(10)
def test_stop_during_a_stall_returns_quickly() -> None:
    server = FakeServer().start()
    server.add("GET", "/s", Reply.stall(60))
    server.add("GET", "/p", Reply.sse([{"a": 1}, {"b": 2}], stall_after=1, stall=60))
    with Raw(server) as one, Raw(server) as two:
        one.send("GET", "/s")
        two.send("GET", "/p")
        two.head()
        two.chunk()
        while server.open_connections < 2 or len(server.requests) < 2:
            time.sleep(0.01)
        start = time.monotonic()
        server.stop()
        assert time.monotonic() - start < 1.0
        for raw in (one, two):
            try:
                assert raw.sock.recv(1) == b""
            except ConnectionResetError:
                pass  # an aborted connection may also arrive as a reset
    server.stop()  # idempotent
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2)


@pytest.mark.timeout(10)
def test_restart_keeps_the_port() -> None:
    server = FakeServer()
    server.add("GET", "/a", Reply.text("a"))
    with server:
        port = server.port
    with server, httpx.Client() as client:
        assert server.port == port and client.get(server.url + "/a").text == "a"


@pytest.mark.timeout(10)
def test_start_raises_when_the_port_is_taken(srv: FakeServer) -> None:
    with pytest.raises(OSError):
        FakeServer(port=srv.port).start()


@pytest.mark.timeout(20)
def test_serves_a_subprocess(srv: FakeServer) -> None:
    srv.add("GET", "/ping", Reply.text("pong"))
    code = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())"
    out = subprocess.run(
        [sys.executable, "-c", code, srv.url + "/ping"], capture_output=True, text=True, timeout=15
    )
    assert out.stdout.strip() == "pong"


@pytest.mark.timeout(10)
def test_fixture_serves(fake_server: FakeServer) -> None:
    fake_server.add("GET", "/a", Reply.json([1]))
    with httpx.Client(base_url=fake_server.url) as client:
        assert client.get("/a").json() == [1]


@pytest.mark.timeout(60)
def test_fixture_stops_after_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import socket, pytest
        ports = []
        def test_a(fake_server):
            ports.append(fake_server.port)
            socket.create_connection(("127.0.0.1", fake_server.port)).close()
        def test_b():
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", ports[0]), timeout=2)
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


@pytest.mark.timeout(30)
def test_plugin_import_is_light() -> None:
    code = (
        "import sys, plugbay.testing.pytest_plugin; "
        "print('plugbay.testing.server' in sys.modules, 'httpx' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert out.stdout.split() == ["False", "False"], out.stderr
