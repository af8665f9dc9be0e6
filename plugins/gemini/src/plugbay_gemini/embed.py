"""Gemini embeddings: ``models/{model}:embedContent`` for one input and
``models/{model}:batchEmbedContents`` for more (at most 100 requests in one batch).

One request is ``{"content": {"parts": [{"text"}]}, "taskType"?, "outputDimensionality"?}``
(in a batch each also names ``"model": "models/{model}"``); the answer is ``{"embedding":
{"values"}}`` or ``{"embeddings": [{"values"}, ...]}`` in request order. The Gemini API
reports no token usage for embeddings, so their cost is unknown (``None``), never 0.
"""

from __future__ import annotations

from typing import Any

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.embeddings import Embeddings, EmbedLimits, EmbedRequest
from plugbay.hookspecs import hookimpl
from plugbay_gemini.provider import headers, map_error, model_path, url

__all__ = ["TASK_TYPES", "embed", "embed_limits", "embed_request"]

# plugbay's portable input types -> Gemini's taskType; any other string is sent as given
# (QUESTION_ANSWERING, FACT_VERIFICATION, CODE_RETRIEVAL_QUERY, ...)
TASK_TYPES = {"query": "RETRIEVAL_QUERY", "document": "RETRIEVAL_DOCUMENT",
              "similarity": "SEMANTIC_SIMILARITY", "classification": "CLASSIFICATION",
              "clustering": "CLUSTERING"}

# batchEmbedContents takes at most 100 requests; gemini-embedding-001 reads 2,048 tokens an
# input (Gemini API embeddings guide and model card, read 2026-12-04).
embed_limits = EmbedLimits(batch=100, max_input_tokens=2048)


def embed_request(text: str, request: EmbedRequest, model: str | None = None,
                  ) -> dict[str, Any]:
    """One ``EmbedContentRequest`` (``model`` set inside a batch)."""
    one: dict[str, Any] = {"content": {"parts": [{"text": text}]}}
    if model is not None:
        one = {"model": model, **one}
    if request.input_type:
        one["taskType"] = TASK_TYPES.get(request.input_type, request.input_type)
    if request.dimensions is not None:
        one["outputDimensionality"] = request.dimensions
    one.update(request.extra)
    return one


def _values(item: Any, provider: str) -> list[float]:
    values = item.get("values") if isinstance(item, dict) else None
    if not isinstance(values, list):
        raise errors.malformed("an embedding has no values", item, provider=provider)
    return values


@hookimpl
async def embed(request: EmbedRequest, provider: ProviderContext) -> Embeddings:
    if request.encoding != "float":
        raise errors.InvalidRequestError(
            f"gemini returns float vectors only, not {request.encoding!r}",
            provider=provider.name)
    name = "models/" + request.model.removeprefix("models/")
    single = len(request.inputs) == 1
    if single:
        body = embed_request(request.inputs[0], request)
        path = model_path(request.model, "embedContent")
    else:
        body = {"requests": [embed_request(t, request, name) for t in request.inputs]}
        path = model_path(request.model, "batchEmbedContents")
    response = await provider.http.request("POST", url(provider, path),
                                           headers=headers(provider), json=body)
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, provider)
    data = response.json_object()
    if single:
        vectors = [_values(data.get("embedding"), provider.name)]
    else:
        items = data.get("embeddings")
        if not isinstance(items, list) or len(items) != len(request.inputs):
            raise errors.malformed(f"the answer has no {len(request.inputs)} embeddings",
                                   data, provider=provider.name)
        vectors = [_values(item, provider.name) for item in items]
    return Embeddings.model_construct(
        vectors=vectors, model=request.model, provider=provider.name, usage=None,
        dimensions=len(vectors[0]), encoding="float", latency=None, price=None, extra={},
        trace=None)
