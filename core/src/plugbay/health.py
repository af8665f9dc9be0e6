"""``probe``: the one way a plugin turns a cheap request into ``Health``.

It never raises: a failure to even build the request (no key, no base URL) or to
reach the provider is ``down``; a rate-limited or overloaded answer is ``degraded``;
any other error status is ``down``. ``judge`` may look at a successful answer (an
account with no balance left is up, but ``down`` for callers).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.http.models import HTTPResponse
from plugbay.types import Health

__all__ = ["probe"]

MapError = Callable[[int, Mapping[str, str], Any, ProviderContext], errors.APIError]


async def probe(
    provider: ProviderContext,
    send: Callable[[], Awaitable[HTTPResponse]],
    map_error: MapError,
    *,
    judge: Callable[[HTTPResponse, float], Health | None] | None = None,
) -> Health:
    """Run ``send`` (building the request inside it) and report the outcome."""
    started = time.perf_counter()
    try:
        response = await send()
    except errors.PlugbayError as exc:  # missing key or config included: never raise
        return Health(provider=provider.name, status="down", detail=str(exc))
    latency = time.perf_counter() - started
    if response.status < 400:
        verdict = judge(response, latency) if judge is not None else None
        return verdict or Health(provider=provider.name, status="ok", latency=latency)
    failure = map_error(response.status, response.headers, response.content, provider)
    busy = isinstance(failure, (errors.RateLimitError, errors.OverloadedError))
    return Health(provider=provider.name, status="degraded" if busy else "down",
                  latency=latency, detail=str(failure))
