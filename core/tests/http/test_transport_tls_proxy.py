"""AsyncioTransport over TLS and through HTTP proxies, and the proxy/URL helpers."""

from __future__ import annotations

import asyncio
import base64
import ssl
from typing import Any

import pytest
import trustme
from _transport_support import Request, get, keepalive, once, read_request, reply, serve

from plugbay.errors import ConnectionError as PBConnectionError
from plugbay.http import _h11
from plugbay.http.transport import AsyncioTransport

pytestmark = pytest.mark.timeout(10)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_tls(ca: trustme.CA, seen_sni: list[str | None] | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1", "upstream.test").configure_cert(ctx)
    if seen_sni is not None:
        def record(_sock: Any, name: str | None, _ctx: Any) -> None:
            seen_sni.append(name)

        ctx.sni_callback = record
    return ctx


def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


async def test_https_with_trusted_ca(ca: trustme.CA) -> None:
    sni: list[str | None] = []
    async with serve(keepalive(reply(b"secure")), server_tls(ca, sni)) as server, \
            AsyncioTransport(ssl_context=client_tls(ca)) as t:
        _, body = await get(t, server.url(scheme="https", host="localhost"))
        _, again = await get(t, server.url(scheme="https", host="localhost"))
    assert body == again == b"secure"
    assert sni == ["localhost"] and server.connections == 1


async def test_https_untrusted_certificate_is_refused(ca: trustme.CA) -> None:
    async with serve(keepalive(reply(b"secure")), server_tls(ca)) as server, \
            AsyncioTransport() as t:
        with pytest.raises(PBConnectionError, match=r"(?i)certificate"):
            await get(t, server.url(scheme="https", host="localhost"))


async def test_https_verify_false(ca: trustme.CA) -> None:
    async with serve(keepalive(reply(b"unverified")), server_tls(ca)) as server, \
            AsyncioTransport(verify=False) as t:
        _, body = await get(t, server.url(scheme="https"))
    assert body == b"unverified"


# ------------------------------------------------------------------ proxies

async def test_http_proxy_absolute_form_with_basic_auth(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Request] = []
    async with serve(keepalive(reply(b"via proxy"), seen)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://user:p%40ss@127.0.0.1:{proxy.port}")
        async with AsyncioTransport() as t:
            _, body = await get(t, "http://upstream.test:8080/v1/x?y=1")
            await get(t, "http://upstream.test:8080/v1/z")
    assert body == b"via proxy"
    assert [r.target for r in seen] == ["http://upstream.test:8080/v1/x?y=1",
                                        "http://upstream.test:8080/v1/z"]
    assert seen[0].header("Host") == "upstream.test:8080"
    expected = "Basic " + base64.b64encode(b"user:p@ss").decode()
    assert seen[0].header("Proxy-Authorization") == expected
    assert proxy.connections == 1


async def test_https_through_connect_tunnel(monkeypatch: pytest.MonkeyPatch,
                                            ca: trustme.CA) -> None:
    connects: list[Request] = []

    async def tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        request = await read_request(reader)
        assert request is not None
        connects.append(request)
        host, _sep, port = request.target.rpartition(":")
        assert host == "upstream.test"
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer),
                             return_exceptions=True)

    origin_seen: list[Request] = []
    async with serve(keepalive(reply(b"tunnelled"), origin_seen), server_tls(ca)) as origin, \
            serve(tunnel) as proxy:
        monkeypatch.setenv("https_proxy", f"http://u:pw@127.0.0.1:{proxy.port}")
        async with AsyncioTransport(ssl_context=client_tls(ca)) as t:
            _, body = await get(t, origin.url("/secret", scheme="https", host="upstream.test"))
            _, again = await get(t, origin.url("/again", scheme="https", host="upstream.test"))
    assert body == again == b"tunnelled"
    assert len(connects) == 1 and connects[0].method == "CONNECT"
    assert connects[0].header("Proxy-Authorization") == "Basic " + base64.b64encode(
        b"u:pw").decode()
    assert [r.target for r in origin_seen] == ["/secret", "/again"]  # origin-form inside
    assert origin_seen[0].header("Host") == f"upstream.test:{origin.port}"


async def test_proxy_refusing_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = reply(b"no", status="407 Proxy Authentication Required")
    async with serve(once(answer)) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        async with AsyncioTransport() as t:
            with pytest.raises(PBConnectionError, match="407"):
                await get(t, "https://upstream.test/")


@pytest.mark.usefixtures("fake_dns")
async def test_no_proxy_and_loopback_go_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    async with serve(keepalive(reply(b"proxy"))) as proxy, \
            serve(keepalive(reply(b"direct"))) as origin:
        monkeypatch.setenv("http_proxy", f"127.0.0.1:{proxy.port}")
        monkeypatch.setenv("NO_PROXY", "example.com, .upstream.test")
        async with AsyncioTransport() as t:
            _, named = await get(t, origin.url(host="api.upstream.test"))
            _, loopback = await get(t, origin.url())
            _, proxied = await get(t, origin.url(host="other.test"))
        async with AsyncioTransport(trust_env=False) as t:
            _, ignored = await get(t, origin.url(host="other.test"))
    assert (named, loopback, proxied, ignored) == (b"direct", b"direct", b"proxy", b"direct")
    assert proxy.connections == 1


@pytest.mark.parametrize(("host", "port", "no_proxy", "bypass"), [
    ("api.example.com", 443, "", False),
    ("api.example.com", 443, "*", True),
    ("api.example.com", 443, "example.com", True),
    ("api.example.com", 443, ".example.com", True),
    ("api.example.com", 443, "*.example.com", True),
    ("example.com", 443, ".example.com", True),
    ("badexample.com", 443, "example.com", False),
    ("api.example.com", 443, "other.org, example.com:443", True),
    ("api.example.com", 443, "example.com:8443", False),
    ("10.1.2.3", 80, "10.0.0.0/8", True),
    ("11.1.2.3", 80, "10.0.0.0/8", False),
    ("::1", 80, "", True),
    ("127.0.0.1", 80, "", True),
    ("localhost", 80, "", True),
    ("app.localhost", 80, "", True),
    ("fd00::1", 80, "[fd00::1]:80", True),
])
def test_no_proxy_matching(host: str, port: int, no_proxy: str, bypass: bool) -> None:
    assert _h11.bypass_proxy(host, port, no_proxy) is bypass


def test_split_url() -> None:
    assert _h11.split_url("HTTPS://API.Example.com/v1?a=b#frag") == (
        "https", "api.example.com", 443, "/v1?a=b", "api.example.com")
    assert _h11.split_url("http://u:p@[::1]:8080?q") == ("http", "::1", 8080, "/?q", "[::1]:8080")
    for bad in ("ftp://x/", "http://", "http://h:port/", "http://h/a b", "http://h:70000/"):
        with pytest.raises(ValueError):
            _h11.split_url(bad)


def test_env_proxies_precedence() -> None:
    env = {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:2",
           "ALL_PROXY": "http://all:3", "NO_PROXY": "a.com"}
    assert _h11.env_proxies(env) == ({"http": "http://lower:2", "https": "http://all:3"},
                                     "a.com")
    # In a CGI process HTTP_PROXY may come from a request header ("httpoxy"): ignored.
    cgi = {"HTTP_PROXY": "http://evil:1", "REQUEST_METHOD": "GET"}
    assert _h11.env_proxies(cgi) == ({}, "")
    with pytest.raises(PBConnectionError, match="unsupported proxy"):
        _h11.proxy_for(({"https": "socks5://p:1080"}, ""), "https", "api.example.com", 443)
