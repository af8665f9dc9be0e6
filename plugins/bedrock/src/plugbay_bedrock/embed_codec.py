"""Bedrock embedding bodies for ``InvokeModel`` (``POST /model/{id}/invoke``), as pure
functions, one family per model id prefix.

- Amazon Titan Text Embeddings (``amazon.titan-embed-text-v1``, ``-v2:0``): one input a
  request, ``{"inputText", "dimensions"? (v2), "normalize": true (v2),
  "embeddingTypes"? (v2: float, binary)}`` answers ``{"embedding", "inputTextTokenCount",
  "embeddingsByType"?}``.
- Cohere Embed v3 (``cohere.embed-english-v3``, ``cohere.embed-multilingual-v3``): up to
  96 texts, ``{"texts", "input_type", "truncate": "NONE", "embedding_types": [type]}``
  answers ``{"embeddings": {type: [...]}, "id", "texts"}``; the input token count comes
  in the ``X-Amzn-Bedrock-Input-Token-Count`` header.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugbay import errors
from plugbay.embeddings import Embeddings, EmbedLimits, EmbedRequest
from plugbay.types import Usage

__all__ = ["EMBED_LIMITS", "build_embed_body", "is_cohere", "parse_embed_response"]

COHERE_TYPES = {"query": "search_query", "document": "search_document",
                "classification": "classification", "clustering": "clustering"}
# Titan takes one text a request (8,192 tokens for v2, 8,000 for v1); Cohere on Bedrock 96
# texts of at most 2,048 characters (~512 tokens) (the Bedrock user guide's model
# parameter pages, read 2026-12-04).
EMBED_LIMITS = EmbedLimits(batch=1, max_input_tokens=8192, models={
    "cohere.embed": EmbedLimits(batch=96, max_input_tokens=512),
    "amazon.titan-embed-text-v1": EmbedLimits(batch=1, max_input_tokens=8000)})


def is_cohere(model: str) -> bool:
    return model.startswith("cohere.embed")


def build_embed_body(request: EmbedRequest, model: str, provider: str) -> dict[str, Any]:
    """``model`` is the base model id (no inference-profile prefix)."""
    if is_cohere(model):
        kind = request.input_type or "document"
        if kind == "similarity":
            raise errors.InvalidRequestError(
                "cohere has no 'similarity' input type: use query, document, classification "
                "or clustering", provider=provider)
        if request.dimensions is not None:
            raise errors.InvalidRequestError(
                f"{model} has one output size: drop dimensions", provider=provider)
        return {"texts": request.inputs, "input_type": COHERE_TYPES.get(kind, kind),
                "truncate": "NONE", "embedding_types": [request.encoding], **request.extra}
    if request.encoding not in ("float", "binary"):
        raise errors.InvalidRequestError(
            f"titan offers float and binary vectors, not {request.encoding!r}",
            provider=provider)
    body: dict[str, Any] = {"inputText": request.inputs[0]}
    if model.startswith("amazon.titan-embed-text-v2"):
        body["normalize"] = True
        body["embeddingTypes"] = [request.encoding]
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
    elif request.dimensions is not None or request.encoding != "float":
        raise errors.InvalidRequestError(
            f"{model} returns 1,536 float dimensions only", provider=provider)
    body.update(request.extra)
    return body


def parse_embed_response(data: Any, headers: Mapping[str, str], request: EmbedRequest,
                         model: str, provider: str) -> Embeddings:
    if not isinstance(data, dict):
        raise errors.malformed("the embedding answer is not a JSON object", data,
                               provider=provider)
    if is_cohere(model):
        by_type = data.get("embeddings")
        vectors = by_type.get(request.encoding) if isinstance(by_type, dict) else by_type
        count = headers.get("x-amzn-bedrock-input-token-count")
        tokens = int(count) if count and count.isdigit() else None
    else:
        by_type = data.get("embeddingsByType")
        one = by_type.get(request.encoding) if isinstance(by_type, dict) else None
        one = one if one is not None else data.get("embedding")
        vectors = [one] if isinstance(one, list) else None
        tokens = data.get("inputTextTokenCount")
    if not isinstance(vectors, list) or len(vectors) != len(request.inputs):
        raise errors.malformed(f"the answer has no {len(request.inputs)} embeddings", data,
                               provider=provider)
    return Embeddings.model_construct(
        vectors=vectors, model=request.model, provider=provider,
        usage=Usage(input_tokens=tokens) if isinstance(tokens, int) else None,
        dimensions=len(vectors[0]) if vectors and isinstance(vectors[0], list) else None,
        encoding=request.encoding, latency=None, price=None, extra={}, trace=None)
