"""FakeServer routes and Reply builders: matching, order, callables, the request record."""

from __future__ import annotations

import asyncio
import http.client
import json
import re

import httpx
import pytest
from _fakeserver_support import Raw

from plugbay.testing.server import FakeServer, RecordedRequest, Reply


@pytest.mark.timeout(10)
def test_json_reply_exact_bytes(srv: FakeServer) -> None:
    srv.add("POST", "/v1/chat/completions", Reply.json({"a": [1, "é"]}))
    with Raw(srv) as raw:
        raw.send("POST", "/v1/chat/completions", b"{}", "Connection: close\r\n")
        body = '{"a":[1,"é"]}'.encode()
        expected = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )
        assert raw.exact(len(expected)) == expected
        assert raw.eof()


@pytest.mark.timeout(10)
def test_text_raw_and_custom_headers(srv: FakeServer, conn: http.client.HTTPConnection) -> None:
    srv.add("GET", "/t", Reply.text("héllo", status=201, headers={"X-A": "1"}))
    cookies = [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Content-Type", "x/y")]
    srv.add("GET", "/r", Reply.raw(b"\x00\xff", content_type="a/b", headers=cookies))
    conn.request("GET", "/t")
    resp = conn.getresponse()
    assert (resp.status, resp.reason, resp.read()) == (201, "Created", "héllo".encode())
    assert resp.getheader("content-type") == "text/plain" and resp.getheader("x-a") == "1"
    conn.request("GET", "/r")
    resp = conn.getresponse()
    assert resp.read() == b"\x00\xff"
    assert resp.headers.get_all("set-cookie") == ["a=1", "b=2"]
    assert resp.headers.get_all("content-type") == ["x/y"]  # the caller's replaces the default


@pytest.mark.timeout(10)
def test_replies_in_order_then_last_repeats(srv: FakeServer) -> None:
    limited = Reply.json(
        {"error": {"message": "slow down"}}, status=429, headers={"retry-after": "1"}
    )
    route = srv.add("POST", "/x", limited, Reply.json({"n": 1}), Reply.json({"n": 2}))
    with httpx.Client(base_url=srv.url) as client:
        first = client.post("/x")
        assert (first.status_code, first.headers["retry-after"]) == (429, "1")
        assert [client.post("/x").json()["n"] for _ in range(3)] == [1, 2, 2]
    assert route.hits == 4 and len(route.requests) == 4


@pytest.mark.timeout(10)
def test_later_add_replaces_route_and_clear_forgets(srv: FakeServer) -> None:
    srv.add("GET", "/a", Reply.text("old"))
    srv.add("get", "/a", Reply.text("new"))
    with httpx.Client(base_url=srv.url) as client:
        assert client.get("/a").text == "new"
        srv.clear()
        assert srv.requests == []
        assert client.get("/a").status_code == 404


@pytest.mark.timeout(10)
def test_regex_routes_fullmatch_the_path_only(srv: FakeServer) -> None:
    srv.add("GET", re.compile(r"/v1/models.*"), Reply.json({"data": []}))
    srv.add("GET", re.compile(r"/v1/models/x"), Reply.json({"id": "x"}))  # later: lower priority
    with httpx.Client(base_url=srv.url) as client:
        assert client.get("/v1/models").json() == {"data": []}
        assert client.get("/v1/models/gpt-4o", params={"q": "1"}).status_code == 200
        assert client.get("/api/v1/models").status_code == 404


@pytest.mark.timeout(10)
def test_unmatched_request_gets_404_json(srv: FakeServer) -> None:
    srv.add("GET", "/path", Reply.json({}))
    with httpx.Client(base_url=srv.url) as client:
        resp = client.post("/path?x=1")
    assert resp.status_code == 404
    assert resp.json() == {"error": {"message": "fake server: no route for POST /path"}}


@pytest.mark.timeout(10)
def test_percent_encoded_path_matches_decoded_route(srv: FakeServer) -> None:
    srv.add("POST", "/model/a.b:0/invoke", Reply.json({"ok": True}))
    with Raw(srv) as raw:
        raw.send("POST", "/model/a.b%3A0/invoke")
        assert raw.response()[0] == 200
    assert srv.last.path == "/model/a.b%3A0/invoke"


@pytest.mark.timeout(10)
def test_sync_and_async_callables(srv: FakeServer) -> None:
    srv.add("POST", "/sync", lambda req: Reply.json({"echo": req.json()}))

    async def slow_echo(req: RecordedRequest) -> Reply:
        await asyncio.sleep(0.01)
        return Reply.text(req.text.upper())

    srv.add("POST", "/async", slow_echo)
    with httpx.Client(base_url=srv.url) as client:
        assert client.post("/sync", json={"q": 2}).json() == {"echo": {"q": 2}}
        assert client.post("/async", content=b"hi").text == "HI"


@pytest.mark.timeout(10)
def test_failing_callable_answers_500_and_keeps_the_error(srv: FakeServer) -> None:
    def boom(req: RecordedRequest) -> Reply:
        raise KeyError("nope")

    srv.add("GET", "/boom", boom, lambda req: "not a reply")  # type: ignore[arg-type,return-value]
    with httpx.Client(base_url=srv.url) as client:
        first, second = client.get("/boom"), client.get("/boom")
    assert (first.status_code, second.status_code) == (500, 500)
    assert "KeyError" in first.json()["error"]["message"]
    assert [type(e) for e in srv.errors] == [KeyError, TypeError]


@pytest.mark.timeout(10)
def test_requests_are_recorded(srv: FakeServer) -> None:
    with pytest.raises(LookupError):
        srv.last  # noqa: B018
    srv.add("POST", "/v1/chat", Reply.json({}))
    with httpx.Client(base_url=srv.url) as client:
        client.get("/first")
        client.post(
            "/v1/chat?a=1&a=2&empty=",
            json={"model": "m", "msg": "é"},
            headers={"Authorization": "Bearer k", "X-Trace": "t"},
        )
    first, req = srv.requests
    assert (first.method, first.path, req.method, req.path) == ("GET", "/first", "POST", "/v1/chat")
    assert srv.last is req
    assert req.url == "/v1/chat?a=1&a=2&empty="
    assert req.query == {"a": ["1", "2"], "empty": [""]}
    assert req.headers["authorization"] == "Bearer k" and req.headers["X-TRACE"] == "t"
    assert req.json() == {"model": "m", "msg": "é"}
    assert json.loads(req.text) == req.json() and req.body == req.text.encode()
    assert first.connection == req.connection == 1


@pytest.mark.timeout(10)
def test_builders_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        Reply.truncated(b"abc", claim=3)
    with pytest.raises(ValueError):
        Reply.sse([{"a": 1}], cut_after=2)
    with pytest.raises(TypeError):
        Reply.sse([1])
    with pytest.raises(ValueError):
        Reply.json({}, status=42)
    with pytest.raises(ValueError):
        FakeServer().add("GET", "/a")


def test_routes_lists_exact_then_patterns_and_replacements(srv: FakeServer) -> None:
    first = srv.add("POST", re.compile(r"/m/.*"), Reply.json({}))
    exact = srv.add("GET", "/a", Reply.json({}))
    assert srv.routes == [exact, first]
    again = srv.add("GET", "/a", Reply.text("x"))  # the same route again replaces it
    assert srv.routes == [again, first] and again is not exact
    srv.clear()
    assert srv.routes == []
