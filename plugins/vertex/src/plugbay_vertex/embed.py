"""Vertex AI embeddings: the text-embedding ``:predict`` form, which serves both the
``text-embedding-*`` models and ``gemini-embedding-001`` on Vertex.

``POST .../publishers/google/models/{model}:predict`` with ``{"instances": [{"content",
"task_type"?}], "parameters": {"autoTruncate": false, "outputDimensionality"?}}`` answers
``{"predictions": [{"embeddings": {"values", "statistics": {"token_count",
"truncated"}}}]}`` in instance order. ``autoTruncate`` is off, so an input too long is an
error, never silently cut. Task types are Gemini's (``plugbay_gemini.embed``).
"""

from __future__ import annotations

from typing import Any

from plugbay_gemini.embed import TASK_TYPES

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.embeddings import Embeddings, EmbedLimits, EmbedRequest
from plugbay.hookspecs import hookimpl
from plugbay.types import Usage
from plugbay_vertex.provider import headers, map_error, model_url, route

__all__ = ["embed", "embed_limits"]

# text-embedding-005 and text-multilingual-embedding-002: 250 instances a request, 20,000
# tokens in all, 2,048 an input; gemini-embedding-001: one instance a request (Vertex AI's
# text embeddings API reference, read 2026-12-04).
embed_limits = EmbedLimits(batch=250, max_input_tokens=2048, batch_tokens=20_000, models={
    "gemini-embedding": EmbedLimits(batch=1, max_input_tokens=2048)})


def predict_body(request: EmbedRequest) -> dict[str, Any]:
    kind = TASK_TYPES.get(request.input_type or "", request.input_type)
    instances = [{"content": t, **({"task_type": kind} if kind else {})}
                 for t in request.inputs]
    parameters: dict[str, Any] = {"autoTruncate": False}
    if request.dimensions is not None:
        parameters["outputDimensionality"] = request.dimensions
    return {"instances": instances, "parameters": parameters, **request.extra}


@hookimpl
async def embed(request: EmbedRequest, provider: ProviderContext) -> Embeddings:
    if request.encoding != "float":
        raise errors.InvalidRequestError(
            f"vertex returns float vectors only, not {request.encoding!r}",
            provider=provider.name)
    publisher, model = route(request.model)
    url = await model_url(provider, publisher, model, "predict")
    response = await provider.http.request("POST", url, headers=await headers(provider),
                                           json=predict_body(request))
    if response.status >= 400:
        raise map_error(response.status, response.headers, response.content, provider)
    data = response.json_object()
    predictions = data.get("predictions")
    if not isinstance(predictions, list) or len(predictions) != len(request.inputs):
        raise errors.malformed(f"the answer has no {len(request.inputs)} predictions", data,
                               provider=provider.name)
    vectors: list[Any] = []
    tokens = 0
    for item in predictions:
        found = (item or {}).get("embeddings") if isinstance(item, dict) else None
        values = found.get("values") if isinstance(found, dict) else None
        if not isinstance(values, list):
            raise errors.malformed("a prediction has no embedding values", item,
                                   provider=provider.name)
        vectors.append(values)
        count = (found.get("statistics") or {}).get("token_count")
        tokens += int(count) if isinstance(count, (int, float)) else 0
    return Embeddings.model_construct(
        vectors=vectors, model=request.model, provider=provider.name,
        usage=Usage(input_tokens=tokens), dimensions=len(vectors[0]), encoding="float",
        latency=None, price=None, extra={}, trace=None)
