"""Embedding wires: script a ``FakeServer`` to embed in one provider's exact format.

The server's reply is a callable: it reads the inputs the client sent, and answers each
with a vector made from the text itself (``fake_vector``), in the provider's shape. So
the kit can check that vectors come back in input order, that ``dimensions`` reached
the provider, and exactly which inputs each request carried. Values are multiples of
1/256, exact in float32, so a base64 wire round-trips them exactly.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import Any

from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest
from plugbay.testing.wire import ERROR_KINDS

__all__ = ["DEFAULT_DIMS", "EmbedWire", "OpenAIEmbedWire", "fake_int_vector", "fake_tokens",
           "fake_vector"]

DEFAULT_DIMS = 8


def fake_vector(text: str, dims: int) -> list[float]:
    """A deterministic vector for ``text`` (exact in float32)."""
    digest = hashlib.sha256(text.encode()).digest()
    return [j % 7 + digest[j % 32] / 256 for j in range(dims)]


def fake_int_vector(text: str, dims: int) -> list[int]:
    """A deterministic int8 vector for ``text``."""
    digest = hashlib.sha256(text.encode()).digest()
    return [digest[j % 32] - 128 for j in range(dims)]


def fake_tokens(inputs: list[str]) -> int:
    """The input tokens the fake reports for ``inputs``."""
    return sum(len(t) // 4 + 1 for t in inputs)


def float32_base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


class EmbedWire:
    """Base class; a provider's wire says where embeddings are asked and in what shape."""

    def base_url(self, server_url: str) -> str:
        return server_url

    def script_embeddings(self, server: FakeServer, *, model: str) -> None:
        """Embed whatever is sent, for ``model``, with vectors from ``fake_vector``."""
        raise NotImplementedError("EmbedWire.script_embeddings is not written")

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        """An error of ``kind`` (a key of ``ERROR_KINDS``) in the provider's shape."""
        raise NotImplementedError("EmbedWire.script_error is not written")

    def script_body(self, server: FakeServer, *, model: str, body: bytes) -> None:
        """A 200 answer of exactly ``body`` where embeddings are asked."""
        raise NotImplementedError("EmbedWire.script_body is not written")

    def inputs_of(self, request: RecordedRequest) -> list[str]:
        """The texts one recorded request carried, in order."""
        raise NotImplementedError("EmbedWire.inputs_of is not written")

    def dimensions_of(self, request: RecordedRequest) -> int | None:
        """The output size the request asked for, or ``None``."""
        raise NotImplementedError("EmbedWire.dimensions_of is not written")

    def input_type_of(self, request: RecordedRequest) -> Any:
        """The provider's own task-type value the request carried, or ``None``."""
        return None

    def is_embed(self, request: RecordedRequest) -> bool:
        """Whether ``request`` asked for embeddings (not a model listing, say)."""
        return request.method == "POST"

    def auth_present(self, request: RecordedRequest, secret: str) -> bool:
        return request.headers.get("authorization") == f"Bearer {secret}"


class OpenAIEmbedWire(EmbedWire):
    """``POST /v1/embeddings`` as OpenAI speaks it: ``data`` items carry ``index`` (sent
    here in reverse order, so a client that trusts the order is caught), floats or
    base64 as ``encoding_format`` asks, usage as ``prompt_tokens``."""

    prefix = "/v1"
    path = "/embeddings"
    dimensions_field = "dimensions"
    dtype_field: str | None = None

    def base_url(self, server_url: str) -> str:
        return server_url + self.prefix

    def route(self, model: str) -> str:
        return self.prefix + self.path

    def vector(self, text: str, body: dict[str, Any]) -> Any:
        dims = body.get(self.dimensions_field) or DEFAULT_DIMS
        dtype = body.get(self.dtype_field) if self.dtype_field else None
        if dtype not in (None, "float"):
            return fake_int_vector(text, dims)
        if body.get("encoding_format") == "base64":
            return float32_base64(fake_vector(text, dims))
        return fake_vector(text, dims)

    def answer(self, request: RecordedRequest, model: str) -> Reply:
        body = request.json()
        inputs = self.inputs_of(request)
        items = [{"object": "embedding", "index": i, "embedding": self.vector(t, body)}
                 for i, t in enumerate(inputs)]
        tokens = fake_tokens(inputs)
        return Reply.json({"object": "list", "data": items[::-1], "model": model,
                           "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    def script_embeddings(self, server: FakeServer, *, model: str) -> None:
        server.add("POST", self.route(model), lambda req: self.answer(req, model))

    def script_error(self, server: FakeServer, *, kind: str, model: str) -> None:
        status = ERROR_KINDS[kind][0]
        code = {"auth": "invalid_api_key", "not_found": "model_not_found"}.get(kind)
        headers = {"retry-after": "2"} if kind == "rate_limit" else {}
        server.add("POST", self.route(model), Reply.json(
            {"error": {"message": f"fake {kind} error", "type": "invalid_request_error",
                       "param": None, "code": code}}, status=status, headers=headers))

    def script_body(self, server: FakeServer, *, model: str, body: bytes) -> None:
        server.add("POST", self.route(model), Reply.raw(body, "application/json"))

    def inputs_of(self, request: RecordedRequest) -> list[str]:
        sent = request.json()["input"]
        return [sent] if isinstance(sent, str) else list(sent)

    def dimensions_of(self, request: RecordedRequest) -> int | None:
        value = request.json().get(self.dimensions_field)
        return int(value) if value is not None else None
