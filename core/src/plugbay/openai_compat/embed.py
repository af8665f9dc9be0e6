"""OpenAI's ``POST /embeddings``, shared by every compatible provider that has it.

Request: ``{"model", "input": [str], "encoding_format": "float"|"base64",
"dimensions"?}``; answer: ``{"data": [{"index", "embedding"}], "model", "usage":
{"prompt_tokens"}}``. ``data`` is put back in input order by ``index``. With
``embed_base64_wire`` the floats travel as base64 (little-endian float32, a quarter of
the JSON and no float parsing) and are decoded here, as OpenAI's own SDK does.

A plugin mixes ``OpenAIEmbeddings`` into its ``OpenAICompatible`` class, exports
``embed = plugin.embed`` and declares ``embed_limits`` (``plugbay.embeddings``).
Quirk points: the URL (Azure's deployments), the names of the dimensions and dtype
fields (Mistral's ``output_dimension``/``output_dtype``), the encodings offered.
"""

from __future__ import annotations

import base64
import sys
from array import array
from typing import TYPE_CHECKING, Any, ClassVar

from plugbay import errors
from plugbay.embeddings import Embeddings, EmbedRequest
from plugbay.hookspecs import hookimpl
from plugbay.http.hints import rate_limits
from plugbay.types import Usage

if TYPE_CHECKING:
    from plugbay.context import ProviderContext

__all__ = ["OpenAIEmbeddings", "decode_base64_floats", "embeddings_body", "parse_embeddings"]


def decode_base64_floats(text: str) -> list[float]:
    """A base64 string of little-endian float32 values as floats."""
    values = array("f", base64.b64decode(text))
    if sys.byteorder == "big":
        values.byteswap()
    return values.tolist()


def embeddings_body(request: EmbedRequest, model: str, *, wire_base64: bool,
                    dimensions_field: str = "dimensions", dtype_field: str | None = None,
                    ) -> dict[str, Any]:
    """The JSON body for ``request`` (``model`` as the provider knows it)."""
    body: dict[str, Any] = {"model": model, "input": request.inputs}
    enc = request.encoding
    if enc == "base64" or (enc == "float" and wire_base64):
        body["encoding_format"] = "base64"
    elif enc == "float":
        body["encoding_format"] = "float"
    elif dtype_field is not None:  # an integer type (Mistral's output_dtype)
        body[dtype_field] = enc
    if request.dimensions is not None:
        body[dimensions_field] = request.dimensions
    if request.extra:
        body.update(request.extra)
    return body


def parse_embeddings(data: Any, request: EmbedRequest, provider: str, *,
                     wire_base64: bool) -> Embeddings:
    """The answer as ``Embeddings``, vectors in input order."""
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise errors.malformed("the embeddings answer has no data list", data,
                               provider=provider)
    n = len(request.inputs)
    vectors: list[Any] = [None] * n
    decode = wire_base64 and request.encoding == "float"
    for pos, item in enumerate(items):
        if not isinstance(item, dict) or "embedding" not in item:
            raise errors.malformed("an embeddings item has no embedding", item,
                                   provider=provider)
        index = item.get("index", pos)
        if not isinstance(index, int) or not 0 <= index < n or vectors[index] is not None:
            raise errors.MalformedResponseError(
                f"embedding index {index!r} does not fit {n} inputs", provider=provider)
        vector = item["embedding"]
        if decode and isinstance(vector, str):
            vector = decode_base64_floats(vector)
        vectors[index] = vector
    if any(v is None for v in vectors):
        raise errors.MalformedResponseError(
            f"{len(items)} embeddings came back for {n} inputs", provider=provider)
    usage = data.get("usage") or {}
    tokens = usage.get("prompt_tokens", usage.get("total_tokens"))
    first = vectors[0] if vectors else None
    return Embeddings.model_construct(
        vectors=vectors, model=data.get("model") or request.model, provider=provider,
        usage=Usage(input_tokens=tokens) if isinstance(tokens, int) else None,
        dimensions=len(first) if isinstance(first, list) else request.dimensions,
        encoding=request.encoding, latency=None, price=None, extra={}, trace=None)


class OpenAIEmbeddings:
    """The ``embed`` hook for an ``OpenAICompatible`` plugin (mixed in before it)."""

    embed_path: ClassVar[str] = "/embeddings"
    embed_encodings: ClassVar[tuple[str, ...]] = ("float", "base64")
    embed_base64_wire: ClassVar[bool] = False  # ask for base64, decode floats locally
    embed_dimensions_field: ClassVar[str] = "dimensions"
    embed_dtype_field: ClassVar[str | None] = None

    def embed_model(self, ctx: ProviderContext, model: str) -> str:
        """The model (or deployment) id sent for ``model``."""
        return self.model_id(model)  # type: ignore[attr-defined,no-any-return]

    def embed_url(self, ctx: ProviderContext, model: str) -> str:
        """The embeddings endpoint for ``model``; Azure puts the deployment in the path."""
        return self.url(ctx, self.embed_path)  # type: ignore[attr-defined,no-any-return]

    @hookimpl
    async def embed(self, request: EmbedRequest, provider: ProviderContext) -> Embeddings:
        if request.encoding not in self.embed_encodings:
            raise errors.InvalidRequestError(
                f"{provider.name} offers the encodings {', '.join(self.embed_encodings)}, "
                f"not {request.encoding!r}", provider=provider.name)
        model = self.embed_model(provider, request.model)
        body = embeddings_body(request, model, wire_base64=self.embed_base64_wire,
                               dimensions_field=self.embed_dimensions_field,
                               dtype_field=self.embed_dtype_field)
        response = await provider.http.request(
            "POST", self.embed_url(provider, model),
            headers=self.headers(provider), json=body)  # type: ignore[attr-defined]
        if response.status >= 400:
            raise self.map_error(response.status, response.headers,  # type: ignore[attr-defined]
                                 response.content, provider)
        result = parse_embeddings(response.json(), request, provider.name,
                                  wire_base64=self.embed_base64_wire)
        limits = rate_limits(response.headers)
        if limits:
            result.extra["rate_limits"] = provider.state["rate_limits"] = limits
        return result
