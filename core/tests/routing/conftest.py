"""Shared fixtures for the routing tests: provider instances of the installed openai
plugin, each served under its own path prefix of one FakeServer on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import plugbay
from plugbay.testing.server import FakeServer, Reply
from plugbay.testing.wire import OpenAIWire

WIRE = OpenAIWire()
USAGE = {"input": 3, "output": 2}


def path(provider: str) -> str:
    return f"/{provider}/v1/chat/completions"


def ok(text: str = "hello", model: str = "m", delay: float = 0.0) -> Reply:
    message = {"role": "assistant", "content": text}
    return Reply.json(WIRE.completion(model, message, "stop", USAGE), delay=delay)


def sse_events(pieces: list[str], model: str = "m") -> list[Any]:
    return WIRE.stream_events(model, [{"content": p} for p in pieces], "stop", USAGE)


def sse_ok(pieces: list[str], model: str = "m", **kw: Any) -> Reply:
    return Reply.sse(sse_events(pieces, model), **kw)


def error(status: int, message: str = "fault", code: str | None = None,
          headers: dict[str, str] | None = None) -> Reply:
    return Reply.json({"error": {"message": message, "type": "server_error", "code": code}},
                      status=status, headers=headers)


def config(srv: FakeServer, providers: tuple[str, ...] = ("a", "b"), **sections: Any,
           ) -> dict[str, Any]:
    table = {n: {"plugin": "openai", "api_key": f"sk-test-{n}-0123456789abcdef",
                 "base_url": f"{srv.url}/{n}/v1"} for n in providers}
    routing = {"backoff_base": 0.01, "backoff_max": 0.05, **sections.pop("routing", {})}
    return {"providers": table, "routing": routing, **sections}


def client(srv: FakeServer, routes: dict[str, Any], **kw: Any) -> plugbay.Client:
    return plugbay.Client(config(srv, routes=routes, **kw), env={})


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
