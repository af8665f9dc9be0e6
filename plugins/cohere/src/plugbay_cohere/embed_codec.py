"""Cohere's v2 ``POST /v2/embed``, as pure functions.

Request: ``{"model", "texts": [...], "input_type", "embedding_types": [type],
"output_dimension"?, "truncate": "NONE"}``; answer: ``{"id", "embeddings": {type:
[vector, ...]}, "texts", "meta": {"billed_units": {"input_tokens"}}}``, vectors in
input order. ``input_type`` is required by the v3 and later models: ``search_document``
when the caller names none. ``truncate`` is ``NONE``, so an input too long is an error
(named by its index), never silently cut.
"""

from __future__ import annotations

from typing import Any

from plugbay import errors
from plugbay.embeddings import Embeddings, EmbedRequest
from plugbay.types import Usage

__all__ = ["INPUT_TYPES", "build_embed_body", "parse_embed_response"]

# plugbay's portable input types -> Cohere's; any other string is sent as Cohere's own
INPUT_TYPES = {"query": "search_query", "document": "search_document",
               "classification": "classification", "clustering": "clustering"}


def build_embed_body(request: EmbedRequest) -> dict[str, Any]:
    kind = request.input_type or "document"
    if kind == "similarity":
        raise errors.InvalidRequestError(
            "cohere has no 'similarity' input type: use query, document, classification or "
            "clustering", provider="cohere")
    body: dict[str, Any] = {"model": request.model, "texts": request.inputs,
                            "input_type": INPUT_TYPES.get(kind, kind),
                            "embedding_types": [request.encoding], "truncate": "NONE"}
    if request.dimensions is not None:
        body["output_dimension"] = request.dimensions
    body.update(request.extra)
    return body


def parse_embed_response(data: Any, request: EmbedRequest, provider: str) -> Embeddings:
    by_type = data.get("embeddings") if isinstance(data, dict) else None
    vectors = by_type.get(request.encoding) if isinstance(by_type, dict) else None
    if not isinstance(vectors, list) or len(vectors) != len(request.inputs):
        raise errors.malformed(
            f"the answer has no {len(request.inputs)} {request.encoding!r} embeddings", data,
            provider=provider)
    billed = (data.get("meta") or {}).get("billed_units") or {}
    tokens = billed.get("input_tokens")
    first = vectors[0] if vectors else None
    return Embeddings.model_construct(
        vectors=vectors, model=request.model, provider=provider,
        usage=Usage(input_tokens=int(tokens)) if isinstance(tokens, (int, float)) else None,
        dimensions=len(first) if isinstance(first, list) else request.dimensions,
        encoding=request.encoding, latency=None, price=None,
        extra={"id": data["id"]} if data.get("id") else {}, trace=None)
