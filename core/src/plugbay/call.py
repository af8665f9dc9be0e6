"""``Call``: one call as it passes down the pipeline (``plugbay.pipeline``).

The client builds one ``Call`` per ``complete``/``stream``. Layers read it and may
hand a changed copy down (``attempt``): routing makes one copy per attempt, with the
attempt's target and request. Every copy shares one ``Outcome``, the result slot a
layer fills in for the layers above it (who served the call, the trace, a cache hit).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from plugbay.errors import InvalidRequestError

if TYPE_CHECKING:
    from plugbay.targets import Target
    from plugbay.types import Price, Request

__all__ = ["Call", "Outcome", "build_request", "call_tags"]

_perf = time.perf_counter


class Outcome:
    """What the layers below learned about a call: filled in on the way back up."""

    __slots__ = ("cache", "collector", "cost", "model", "price", "provider", "saved", "trace")

    def __init__(self) -> None:
        self.provider: str | None = None  # the provider instance that answered
        self.model: str | None = None  # the model id it answered with
        self.price: Price | None = None
        self.trace: Any = None  # a RouteTrace, when a route served the call
        # "hit" or "miss" when the cache saw the call ("no-cache" calls are misses);
        # None when no cache did (none configured, or cache="off")
        self.cache: str | None = None
        self.saved: float | None = None  # on a hit: what the original call cost
        self.cost: float | None = None  # the last attempt's cost, as metered
        self.collector: Any = None  # the StreamCollector of the AsyncStream on top, if any


class Call:
    """One logical call, or (after routing) one attempt of it.

    ``model`` is the name the caller gave (``provider/model``, a route, ``agent:x``);
    ``target`` the resolved provider instance, ``None`` until routing picks one;
    ``timeout`` the seconds this call (or attempt) may take, ``None`` for the default;
    ``cache`` the per-call cache mode (``None``, ``"no-cache"``, ``"no-store"``) and
    ``ttl`` its per-call lifetime; ``meta`` free room for host layers.
    """

    __slots__ = ("cache", "meta", "model", "outcome", "request", "route", "route_key",
                 "started", "stream", "tags", "target", "timeout", "ttl")

    def __init__(self, model: str, request: Request, *, stream: bool = False,
                 target: Target | None = None, timeout: float | None = None,
                 tags: dict[str, str] | None = None, route: str | None = None,
                 route_key: str | None = None, cache: str | None = None,
                 ttl: float | None = None) -> None:
        self.model = model
        self.request = request
        self.stream = stream
        self.target = target
        self.timeout = timeout
        self.tags = tags
        self.route = route
        self.route_key = route_key
        self.cache = cache
        self.ttl = ttl
        self.started = _perf()
        self.outcome = Outcome()
        self.meta: dict[str, Any] = {}

    def attempt(self, target: Target, request: Request, timeout: float | None) -> Call:
        """A copy for one attempt on ``target``: same tags, route and outcome."""
        c = Call.__new__(Call)
        c.model = self.model
        c.request = request
        c.stream = self.stream
        c.target = target
        c.timeout = timeout
        c.tags = self.tags
        c.route = self.route
        c.route_key = self.route_key
        c.cache = self.cache
        c.ttl = self.ttl
        c.started = _perf()
        c.outcome = self.outcome
        c.meta = self.meta
        return c

    def left(self, default: float | None = None) -> float | None:
        """Seconds left of this call's timeout (``default`` when it has none)."""
        limit = self.timeout if self.timeout is not None else default
        if limit is None:
            return None
        left = limit - (_perf() - self.started)
        return left if left > 0 else 0.0

    def __repr__(self) -> str:
        where = self.target.name if self.target is not None else self.route or "?"
        return f"<Call {self.model!r} via {where} stream={self.stream}>"


def build_request(model_id: str, messages: Any, params: dict[str, Any]) -> Request:
    """A ``Request`` for ``model_id``; parameters it does not know go to ``extra``."""
    from plugbay.types import Request, to_messages

    if params:
        known = _fields(Request)
        extra = {k: params.pop(k) for k in list(params) if k not in known}
        if extra:
            params.setdefault("extra", {}).update(extra)
    # a prompt string is validated as a plain dict by pydantic's core in one pass
    # (~2 us less than building the Message in Python first)
    msgs: Any = ([{"role": "user", "content": messages}] if type(messages) is str
                 else to_messages(messages))
    try:
        return Request(model=model_id, messages=msgs, **params)
    except ValueError as exc:  # pydantic's ValidationError: one line, before any call
        errors_ = getattr(exc, "errors", None)
        first = errors_()[0] if callable(errors_) and errors_() else None
        where = ".".join(str(p) for p in first["loc"]) if first else "request"
        why = first["msg"] if first else str(exc)
        got = f" (got {first['input']!r})" if first and "input" in first else ""
        raise InvalidRequestError(f"{where}: {why}{got}") from None


@functools.cache
def _fields(model: Any) -> frozenset[str]:
    return frozenset(model.model_fields)


def call_tags(tags: Mapping[str, Any] | None, params: Mapping[str, Any],
              model: str) -> dict[str, str] | None:
    """The call's ledger tags: ``tags=``, else the request ``metadata``; ``agent:<name>``
    calls are tagged ``agent=<name>`` unless the tags say otherwise."""
    out: dict[str, str] | None = None
    if tags:
        out = {str(k): str(v) for k, v in tags.items()}
    else:
        meta = params.get("metadata")
        if meta:
            out = {str(k): str(v) for k, v in meta.items()}
    if model.startswith("agent:"):
        out = out or {}
        out.setdefault("agent", model[6:])
    return out
