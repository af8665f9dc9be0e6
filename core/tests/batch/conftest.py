"""The batch runner's tests: a FakeServer on 127.0.0.1 playing OpenAI's chat completions.

Each request's custom_id travels as its user message, so the upstream knows which item
it serves; it records every request's id and arrival time (its own clock), and a
``fault`` function may answer some requests with an error (429s, 400s) instead.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from plugbay.testing.cli import toml_text
from plugbay.testing.server import FakeServer, RecordedRequest, Reply
from plugbay.testing.wire import OpenAIWire

WIRE = OpenAIWire()
KEY = "sk-test-batch-0123456789abcdef"
USAGE = {"input": 10, "output": 50}  # at PRICES: 10 * 1 + 50 * 2 = 110e-6 per call
COST = 110e-6
PRICES = {"openai/gpt-4o-mini": {"input": 1.0, "output": 2.0}}
MODEL = "openai/gpt-4o-mini"

Fault = Callable[[str, int], Reply | None]  # (custom_id, attempt number) -> an error or None


class Upstream:
    """The fake upstream and what it saw: ``seen`` is (custom_id, monotonic time) per
    request, in arrival order; ``answered`` the ids answered 200."""

    def __init__(self, srv: FakeServer, delay: float = 0.0, fault: Fault | None = None
                 ) -> None:
        self.srv = srv
        self.delay = delay
        self.fault = fault
        self.lock = threading.Lock()
        self.seen: list[tuple[str, float]] = []
        self.answered: list[str] = []
        self.attempts: Counter[str] = Counter()
        srv.add("POST", "/openai/v1/chat/completions", self.reply)

    def reply(self, req: RecordedRequest) -> Reply:
        cid = req.json()["messages"][-1]["content"]
        with self.lock:
            self.seen.append((cid, time.monotonic()))
            self.attempts[cid] += 1
            attempt = self.attempts[cid]
        if self.fault is not None:
            error = self.fault(cid, attempt)
            if error is not None:
                return error
        with self.lock:
            self.answered.append(cid)
        message = {"role": "assistant", "content": f"answer to {cid}"}
        return Reply.json(WIRE.completion("gpt-4o-mini", message, "stop", USAGE),
                          delay=self.delay)

    def ids(self) -> list[str]:
        with self.lock:
            return [cid for cid, _ in self.seen]


def error(status: int, code: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply.json({"error": {"message": f"fake {status}", "type": code, "code": code}},
                      status=status, headers=headers)


def config(srv: FakeServer, tmp: Path, **sections: Any) -> dict[str, Any]:
    routing = {"backoff_base": 0.01, "backoff_max": 0.02, "retries": 0,
               **sections.pop("routing", {})}
    return {"providers": {"openai": {"plugin": "openai", "api_key": KEY,
                                     "base_url": f"{srv.url}/openai/v1"}},
            "ledger": {"path": str(tmp / "ledger.db")}, "prices": PRICES,
            "routing": routing, **sections}


def write_config(srv: FakeServer, tmp: Path, **sections: Any) -> Path:
    path = tmp / "plugbay.toml"
    path.write_text(toml_text(config(srv, tmp, **sections)))
    return path


def request_line(i: int, form: str = "simple") -> dict[str, Any]:
    cid = f"req-{i:05d}"
    messages = [{"role": "user", "content": cid}]
    if form == "openai":
        return {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
                "body": {"model": MODEL, "messages": messages, "max_tokens": 50}}
    return {"custom_id": cid, "model": MODEL, "messages": messages, "max_tokens": 50}


def write_requests(path: Path, n: int) -> list[str]:
    """``n`` requests, alternating the two input forms; their custom_ids."""
    with path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps(request_line(i, "openai" if i % 2 else "simple")) + "\n")
    return [f"req-{i:05d}" for i in range(n)]


def read_output(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def child_env(home: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(home), "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
