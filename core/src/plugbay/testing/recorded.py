"""What the ``FakeServer`` records and routes: a ``RecordedRequest`` per request, and a
``Route`` (method, path and the replies to serve in order)."""

from __future__ import annotations

import json as _json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from plugbay.http.models import Headers
from plugbay.testing.replies import Reply

__all__ = ["Handler", "RecordedRequest", "ReplySource", "Route"]


@dataclass(frozen=True, slots=True, eq=False)
class RecordedRequest:
    """One request as the server read it."""

    method: str
    url: str  # the request target as sent: path plus query
    path: str  # as sent (not percent-decoded), without the query
    query: dict[str, list[str]]
    headers: Headers
    body: bytes
    http_version: str = "HTTP/1.1"
    connection: int = 0  # 1-based number of the TCP connection it arrived on

    def json(self) -> Any:
        return _json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def keep_alive(self) -> bool:
        """Whether the client lets the connection stay open after the response."""
        tokens = self.headers.get("connection", "").lower()
        return "keep-alive" in tokens if self.http_version == "HTTP/1.0" else "close" not in tokens


Handler = Callable[[RecordedRequest], Reply | Awaitable[Reply]]
ReplySource = Reply | Handler


@dataclass(eq=False)
class Route:
    """A method and path with the replies to serve, in order; the last one repeats."""

    method: str
    path: str | re.Pattern[str]
    replies: tuple[ReplySource, ...]
    hits: int = 0  # requests served so far
    requests: list[RecordedRequest] = field(default_factory=list)

    def take(self, req: RecordedRequest) -> ReplySource:
        source = self.replies[min(self.hits, len(self.replies) - 1)]
        self.hits += 1
        self.requests.append(req)
        return source
