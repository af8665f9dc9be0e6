"""Request, response, headers and the ``Transport`` seam of the HTTP layer.

A transport turns an ``HTTPRequest`` into an ``HTTPResponse`` whose body is read
incrementally. It raises only ``plugbay.errors.ConnectionError`` and
``plugbay.errors.TimeoutError`` (without a provider; the caller fills that in).
Bodies are handed to callers already decoded from gzip/deflate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, NamedTuple, Protocol, runtime_checkable

__all__ = ["HTTPRequest", "HTTPResponse", "Headers", "Timeout", "Transport"]


# Plain classes, not dataclasses: `dataclasses` (with `inspect`) is ~15% of the cost of
# `from plugbay import Client`, which builds an HTTPClient (issue 12).


class Timeout(NamedTuple):
    """Per-phase limits in seconds. ``read`` is the longest gap between two reads."""

    connect: float | None = 10.0
    read: float | None = 600.0

    @classmethod
    def of(cls, value: Timeout | float | None) -> Timeout:
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls()
        return cls(connect=min(value, 10.0), read=value)


class Headers(Mapping[str, str]):
    """Case-insensitive, order-keeping, multi-valued headers."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] | None = None) -> None:
        pairs = items.items() if isinstance(items, Mapping) else (items or ())
        self._items: list[tuple[str, str]] = [(k, v) for k, v in pairs]

    def __getitem__(self, name: str) -> str:
        lname = name.lower()
        for k, v in self._items:
            if k.lower() == lname:
                return v
        raise KeyError(name)

    def get_list(self, name: str) -> list[str]:
        lname = name.lower()
        return [v for k, v in self._items if k.lower() == lname]

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for k, _ in self._items:
            if k.lower() not in seen:
                seen.add(k.lower())
                yield k

    def __len__(self) -> int:
        return len({k.lower() for k, _ in self._items})

    def raw(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class HTTPRequest:
    __slots__ = ("body", "headers", "method", "timeout", "url")

    def __init__(self, method: str, url: str, headers: list[tuple[str, str]] | None = None,
                 body: bytes | None = None, timeout: Timeout | None = None) -> None:
        self.method = method
        self.url = url
        self.headers: list[tuple[str, str]] = [] if headers is None else headers
        self.body = body
        self.timeout = _DEFAULT_TIMEOUT if timeout is None else timeout

    def _fields(self) -> tuple[Any, ...]:
        return (self.method, self.url, self.headers, self.body, self.timeout)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HTTPRequest) and self._fields() == other._fields()

    def __repr__(self) -> str:
        return (f"HTTPRequest(method={self.method!r}, url={self.url!r}, "
                f"headers={self.headers!r}, body={self.body!r}, timeout={self.timeout!r})")


_DEFAULT_TIMEOUT = Timeout()


class ResponseStream(Protocol):
    """The body of a response: decoded bytes, read once."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class HTTPResponse:
    """A response whose body is streamed; ``aread`` buffers it."""

    __slots__ = ("_content", "_stream", "headers", "provider", "reason", "request", "status")

    def __init__(
        self,
        status: int,
        headers: Headers,
        stream: ResponseStream | None = None,
        *,
        request: HTTPRequest | None = None,
        content: bytes | None = None,
        reason: str = "",
    ) -> None:
        self.status = status
        self.headers = headers
        self.request = request
        self.reason = reason
        self.provider: str | None = None  # stamped by HTTPClient, for error attribution
        self._stream = stream
        self._content = content

    async def aread(self) -> bytes:
        if self._content is None:
            chunks = [c async for c in self.aiter_bytes()]
            self._content = b"".join(chunks)
        return self._content

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        if self._content is not None:
            if self._content:
                yield self._content
            return
        stream, self._stream = self._stream, None
        if stream is None:
            return
        try:
            async for chunk in stream:
                if chunk:
                    yield chunk
        finally:
            await stream.aclose()

    async def aclose(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.aclose()

    @property
    def content(self) -> bytes:
        if self._content is None:
            raise RuntimeError("response body not read yet; await response.aread() first")
        return self._content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; a body that is not JSON is a ``ProviderError``."""
        from json import loads  # not at import: plugbay's import stays cheap

        try:
            return loads(self.content)
        except ValueError:
            from plugbay.errors import MalformedResponseError

            raise MalformedResponseError(f"malformed JSON response: {self.text[:200]!r}",
                                provider=self.provider, status=self.status) from None

    def json_object(self) -> dict[str, Any]:
        """The body parsed as a JSON object; anything else (bad JSON, ``null``, a list)
        is a ``MalformedResponseError``."""
        data = self.json()
        if not isinstance(data, dict):
            from plugbay.errors import malformed

            raise malformed("response is not a JSON object", self.text, provider=self.provider,
                            status=self.status)
        return data

    def __repr__(self) -> str:
        return f"<HTTPResponse {self.status}>"


@runtime_checkable
class Transport(Protocol):
    """Sends one request. Implementations pool connections and are bound to one event loop."""

    async def send(self, request: HTTPRequest) -> HTTPResponse: ...

    async def aclose(self) -> None: ...
