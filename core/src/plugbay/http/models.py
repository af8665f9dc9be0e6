"""Request, response, headers and the ``Transport`` seam of the HTTP layer.

A transport turns an ``HTTPRequest`` into an ``HTTPResponse`` whose body is read
incrementally. It raises only ``plugbay.errors.ConnectionError``,
``plugbay.errors.TimeoutError`` and ``plugbay.errors.ResponseTooLargeError`` (without a
provider; the caller fills that in). Bodies are handed to callers already decoded from
gzip/deflate. ``Limits`` bounds what one response may cost in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    from plugbay.errors import ResponseTooLargeError

__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_MAX_EVENT", "HTTPRequest", "HTTPResponse", "Headers",
           "Limits", "Timeout", "Transport"]

# The largest whole body a provider legitimately sends is a long completion with many
# choices, or base64 images/embeddings: single-digit MB. 32 MiB leaves ample headroom while
# a buffered read (about 2x the body at its peak) stays under 100 MB per call.
DEFAULT_MAX_BODY = 32 << 20
# One SSE event or NDJSON line: token deltas are tiny, but a final event may repeat the
# whole answer or carry a base64 image (a few MB). 8 MiB covers those; the decoder holds
# at most about twice this per stream.
DEFAULT_MAX_EVENT = 8 << 20
_SWAP = 1 << 20  # a parsed body larger than this keeps only its text, not bytes and text


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


class Limits:
    """How much of one response plugbay holds in memory, in bytes.

    ``max_body`` caps a body read whole (``aread``, ``json``), counted after gzip/deflate
    decoding, so it also stops decompression bombs. ``max_event`` caps one SSE event or
    NDJSON line of a stream; a stream as a whole is not capped, it is consumed as it
    arrives. Going over either raises ``ResponseTooLargeError``.
    """

    __slots__ = ("max_body", "max_event")

    def __init__(self, max_body: int = DEFAULT_MAX_BODY,
                 max_event: int = DEFAULT_MAX_EVENT) -> None:
        if max_body < 1 or max_event < 1:
            raise ValueError("Limits: max_body and max_event must be positive byte counts")
        self.max_body = max_body
        self.max_event = max_event

    def replace(self, **changes: int) -> Limits:
        return Limits(changes.get("max_body", self.max_body),
                      changes.get("max_event", self.max_event))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Limits) and (self.max_body, self.max_event) == (
            other.max_body, other.max_event)

    def __hash__(self) -> int:
        return hash((self.max_body, self.max_event))

    def __repr__(self) -> str:
        return f"Limits(max_body={self.max_body!r}, max_event={self.max_event!r})"


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
    __slots__ = ("body", "headers", "max_body", "method", "timeout", "url")

    def __init__(self, method: str, url: str, headers: list[tuple[str, str]] | None = None,
                 body: bytes | None = None, timeout: Timeout | None = None,
                 max_body: int = DEFAULT_MAX_BODY) -> None:
        self.method = method
        self.url = url
        self.headers: list[tuple[str, str]] = [] if headers is None else headers
        self.body = body
        self.timeout = _DEFAULT_TIMEOUT if timeout is None else timeout
        self.max_body = max_body  # the response body's cap when read whole (``Limits``)

    def _fields(self) -> tuple[Any, ...]:
        return (self.method, self.url, self.headers, self.body, self.timeout, self.max_body)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HTTPRequest) and self._fields() == other._fields()

    def __repr__(self) -> str:
        return (f"HTTPRequest(method={self.method!r}, url={self.url!r}, "
                f"headers={self.headers!r}, body={self.body!r}, timeout={self.timeout!r}, "
                f"max_body={self.max_body!r})")


_DEFAULT_TIMEOUT = Timeout()


class ResponseStream(Protocol):
    """The body of a response: decoded bytes, read once."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class HTTPResponse:
    """A response whose body is streamed; ``aread`` buffers it, up to ``request.max_body``."""

    __slots__ = ("_content", "_stream", "_text", "headers", "provider", "reason", "request",
                 "status")

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
        self._text: str | None = None  # set instead of _content once a large body is parsed

    async def aread(self) -> bytes:
        content = self._content
        if content is None:
            content = self._content = await self._read()
        return content

    async def _read(self) -> bytes:
        if self._text is not None:
            return self._bytes()
        stream, self._stream = self._stream, None
        if stream is None:
            return b""
        limit = self.request.max_body if self.request is not None else DEFAULT_MAX_BODY
        chunks: list[bytes] = []
        size = 0
        try:
            declared = self.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit and (
                    "content-encoding" not in self.headers):
                raise self._too_large(f"response body ({declared} bytes declared)", limit)
            async for chunk in stream:
                size += len(chunk)
                if size > limit:
                    raise self._too_large("response body", limit)
                chunks.append(chunk)
        finally:
            await stream.aclose()  # after a refusal too: the connection cannot be reused
        return b"".join(chunks)  # one chunk is returned as is, without a copy

    def _too_large(self, what: str, limit: int) -> ResponseTooLargeError:
        from plugbay.errors import ResponseTooLargeError

        return ResponseTooLargeError(what, limit=limit, setting="max_body",
                                     provider=self.provider, status=self.status)

    def _bytes(self) -> bytes:
        content = self._content
        if content is None:
            text = self._text
            if text is None:
                raise RuntimeError("response body not read yet; await response.aread() first")
            content = self._content = text.encode("utf-8", "surrogatepass")
            self._text = None
        return content

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        if self._content is not None or self._text is not None:
            content = self._bytes()
            if content:
                yield content
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
        content = self._content
        return self._bytes() if content is None else content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; a body that is not JSON is a ``ProviderError``."""
        import json  # not at import: plugbay's import stays cheap

        try:
            content = self._content
            if content is None:
                return json.loads(self._text if self._text is not None else self.content)
            if len(content) < _SWAP or json.detect_encoding(content) != "utf-8":
                return json.loads(content)
            # What json.loads(bytes) does, except that the bytes are let go before parsing:
            # a large body then costs its text and its value, not bytes, text and value.
            text = content.decode("utf-8", "surrogatepass")
            del content
            self._content, self._text = None, text
            return json.loads(text)
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
