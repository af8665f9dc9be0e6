"""The cache key: an exact match on the normalised request, as a sha256 hex digest.

What goes in: the namespace, where the call goes (the provider instance, or
``route:<name>`` for a routed call), stream or complete, and every field of the
``Request`` (model, messages, tools, tool_choice, response_format, temperature, top_p,
max_tokens, stop, seed, reasoning_effort, ``extra``, and any field added later) except
``metadata`` and ``user``, which label a call but cannot change its answer. Fields left
at ``None`` are dropped, so an unset field and an explicit ``None`` share a key.

The request is serialised by pydantic, in field order. Dicts the caller wrote
(``extra``, tool schemas, a response schema, a message's ``provider_data``) keep the
caller's key order there, so a request holding any of them is serialised again with
sorted keys: ``{"a": 1, "b": 2}`` and ``{"b": 2, "a": 1}`` share a key. A short chat
takes the fast path (one Rust call and one hash).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plugbay.call import Call
    from plugbay.types import Request

__all__ = ["VERSION", "cache_key", "request_text", "where"]

VERSION = "1"  # bump when the key's make-up changes: old entries then simply miss
_EXCLUDE = {"metadata", "user"}  # cannot change the output


def where(call: Call) -> str:
    """The provider instance a direct call goes to, or ``route:<name>`` for a routed one."""
    if call.target is not None:
        return call.target.name
    return f"route:{call.route or call.model}"


def _has_free_dicts(request: Request) -> bool:
    if request.extra or request.tools or request.response_format is not None:
        return True
    return any(m.provider_data for m in request.messages)


def request_text(request: Request) -> bytes:
    """The request as canonical JSON (the part of the key it contributes)."""
    if not _has_free_dicts(request):
        to_json = request.__pydantic_serializer__.to_json
        if request.metadata is None and request.user is None:  # nothing to leave out
            return b"f" + to_json(request, exclude_none=True)
        return b"f" + to_json(request, exclude=_EXCLUDE, exclude_none=True)
    body = request.model_dump(mode="json", exclude=_EXCLUDE, exclude_none=True)
    return b"s" + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def cache_key(call: Call, namespace: str) -> str:
    """The sha256 hex digest naming ``call``'s entry in ``namespace``."""
    place = where(call)
    # Length-prefixed, so no namespace or provider name can run into the next part.
    head = f"v{VERSION}|{len(namespace)}:{namespace}|{len(place)}:{place}|{int(call.stream)}|"
    return hashlib.sha256(head.encode() + request_text(call.request)).hexdigest()
