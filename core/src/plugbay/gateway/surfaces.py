"""The gateway's endpoints: each reads its wire, calls the one ``Client`` (so routing,
cost, caching and virtual keys are the pipeline's, not the gateway's), and writes its
wire back.

A handler returns an ``Answer`` (JSON) or a ``Streamed`` (SSE). A stream's first event
is awaited before the status line goes out, so that a failure before any output is an
HTTP error the SDKs raise as their class; a failure after it is the surface's in-stream
error event, never a silently short answer.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from plugbay.gateway.wire_anthropic import EventWriter, message_json, messages_call
from plugbay.gateway.wire_errors import WireError, expect, failure
from plugbay.gateway.wire_openai import ChatCall, ChunkWriter, chat_call, embeddings_json, sse
from plugbay.openai_compat.encode import chat_completion_json

if TYPE_CHECKING:
    from plugbay.client import Client
    from plugbay.gateway.keys.record import KeyPrincipal
    from plugbay.streaming import AsyncStream
    from plugbay.types import Completion

__all__ = ["ENDPOINTS", "Answer", "Request", "Streamed"]


class Request:
    """One HTTP request as the handlers see it (headers lower-cased)."""

    __slots__ = ("body", "headers", "method", "path", "principal", "rid")

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes,
                 rid: str) -> None:
        self.method, self.path, self.headers, self.body, self.rid = (
            method, path, headers, body, rid)
        self.principal: KeyPrincipal | None = None


class Answer:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None,
                 ) -> None:
        self.status, self.headers = status, headers or []
        self.body = body if isinstance(body, bytes) else orjson.dumps(body)


class Streamed:
    """An SSE answer: ``chunks`` are written as they come."""

    __slots__ = ("chunks",)

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self.chunks = chunks


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WireError(f"the body is not JSON: {exc}") from None


class _AnswerJson(Protocol):
    def __call__(self, completion: Completion, *, id: str, model: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class _Wire:
    """What the two chat surfaces do differently; the rest is ``Surfaces._converse``."""

    read: Callable[[Any], ChatCall]  # the request body as a call
    prefix: str  # of the answer's id
    answer: _AnswerJson  # a whole answer's body
    writer: Callable[[str, ChatCall], ChunkWriter | EventWriter]  # (id, call): SSE frames
    error: Callable[[BaseException], bytes]  # an in-stream error event


_OPENAI = _Wire(chat_call, "chatcmpl-", chat_completion_json,
                lambda rid, call: ChunkWriter(rid, call.model, call.include_usage),
                lambda exc: sse(failure(exc).openai()))
_ANTHROPIC = _Wire(messages_call, "msg_", message_json,
                   lambda rid, call: EventWriter(rid, call.model),
                   lambda exc: sse(failure(exc, openai=False).anthropic(), "error"))


class Surfaces:
    """The endpoints over one client. ``allowed(principal, model)`` raises when a key may
    not use ``model``; ``tags(principal, metadata)`` the call's ledger tags."""

    def __init__(self, client: Client, *, tags: Callable[[Any, Any], dict[str, str]],
                 allowed: Callable[[Any, str], None],
                 models: Callable[[Any], Any]) -> None:
        self.client = client
        self.tags, self.allowed, self.models_of = tags, allowed, models

    # ------------------------------------------------------------ chat

    def _prepare(self, req: Request, call: ChatCall) -> dict[str, Any]:
        self.allowed(req.principal, call.model)
        params = call.params
        params["tags"] = self.tags(req.principal, params.pop("metadata", None))
        return params

    async def chat(self, req: Request) -> Answer | Streamed:
        return await self._converse(req, _OPENAI)

    async def messages(self, req: Request) -> Answer | Streamed:
        return await self._converse(req, _ANTHROPIC)

    async def _converse(self, req: Request, wire: _Wire) -> Answer | Streamed:
        call = wire.read(_json(req.body))
        params = self._prepare(req, call)
        rid = wire.prefix + req.rid
        if call.stream:
            stream = self.client.astream(call.model, call.messages, **params)
            return await _streamed(stream, wire.writer(rid, call), wire.error)
        completion = await self.client.acomplete(call.model, call.messages, **params)
        return Answer(200, wire.answer(completion, id=rid, model=call.model))

    async def count_tokens(self, req: Request) -> Answer:
        call = messages_call(_json(req.body), counting=True)
        self.allowed(req.principal, call.model)
        count = await self.client.acount_tokens(call.model, call.messages,
                                                tools=call.params.get("tools"))
        return Answer(200, {"input_tokens": count.count},
                      [(b"x-plugbay-count-exact", b"true" if count.exact else b"false")])

    # ------------------------------------------------------------ embeddings, models

    async def embeddings(self, req: Request) -> Answer:
        b = expect(_json(req.body), dict, "body")
        model = expect(b.get("model"), str, "model")
        raw = b.get("input")
        inputs = [raw] if isinstance(raw, str) else expect(raw, list, "input")
        if not inputs or not all(isinstance(x, str) for x in inputs):
            raise WireError("input must be a string or a non-empty array of strings (token "
                            "arrays are not supported)", param="input")
        fmt = b.get("encoding_format") or "float"
        if fmt not in ("float", "base64"):
            raise WireError("encoding_format must be 'float' or 'base64'",
                            param="encoding_format")
        self.allowed(req.principal, model)
        options: dict[str, Any] = {"tags": self.tags(req.principal, None)}
        if b.get("dimensions") is not None:
            options["dimensions"] = expect(b["dimensions"], int, "dimensions")
        if isinstance(b.get("input_type"), str):
            options["input_type"] = b["input_type"]
        out = await self.client.aembed(model, inputs, **options)
        vectors: list[Any] = list(out.vectors)
        if fmt == "base64":  # little-endian float32, as OpenAI sends it
            vectors = [base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode()
                       for v in vectors]
        return Answer(200, embeddings_json(vectors, model, out.usage))

    async def models(self, req: Request) -> Answer:
        names = await self.models_of(req.principal)
        return Answer(200, {"object": "list", "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": owner}
            for name, owner in names]})

    def endpoints(self) -> Mapping[tuple[str, str], Callable[[Request], Any]]:
        return {("POST", "/v1/chat/completions"): self.chat,
                ("POST", "/chat/completions"): self.chat,
                ("POST", "/v1/messages"): self.messages,
                ("POST", "/v1/messages/count_tokens"): self.count_tokens,
                ("POST", "/v1/embeddings"): self.embeddings,
                ("POST", "/embeddings"): self.embeddings,
                ("GET", "/v1/models"): self.models,
                ("GET", "/models"): self.models}


ENDPOINTS = ("/v1/chat/completions", "/v1/messages", "/v1/messages/count_tokens",
             "/v1/embeddings", "/v1/models")


async def _streamed(stream: AsyncStream, writer: ChunkWriter | EventWriter,
                    error: Callable[[BaseException], bytes]) -> Streamed:
    events = stream.__aiter__()
    try:
        first = await events.__anext__()
    except StopAsyncIteration:
        first = None
    except BaseException:
        await stream.aclose()
        raise  # before any output: an HTTP error

    async def chunks() -> AsyncIterator[bytes]:
        try:
            yield writer.first()
            if first is not None:
                out = writer.event(first)
                if out:
                    yield out
                async for event in events:
                    out = writer.event(event)
                    if out:
                        yield out
            yield writer.end(stream.completion)
        except Exception as exc:  # after output began: the surface's in-stream error
            yield error(exc)
        finally:
            await stream.aclose()

    return Streamed(chunks())
