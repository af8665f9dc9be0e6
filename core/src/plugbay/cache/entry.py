"""What a cache entry holds, as bytes: pydantic's JSON behind a four-byte tag.

``pbc1`` + what the call cost (text, empty when unknown) + a newline + a ``Completion``
(without ``trace``, which belongs to the original call), or ``pbe1`` and the same for one
batch of ``Embeddings``; or ``pbs1`` + a ``StreamEntry``:
who answered, at what price and cost, and every event of the stream in order. The cost
is worked out once, when the entry is written, so a hit does not build a ``Cost``.
Decoding anything else raises ``ValueError`` (a corrupt entry).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from plugbay.types import Completion, Cost, Price, StreamEvent, Usage

__all__ = ["StreamEntry", "decode_completion", "decode_embeddings", "decode_stream",
           "encode_completion", "encode_embeddings", "encode_stream", "last_usage",
           "saved_cost"]

_COMPLETION = b"pbc1"
_EMBEDDINGS = b"pbe1"
_STREAM = b"pbs1"


class StreamEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str
    model: str
    price: Price | None = None
    saved: float | None = None  # what the original call cost
    events: list[StreamEvent]


def last_usage(events: Sequence[Any]) -> Usage | None:
    """A stream's usage: its last usage event, as the stream collector takes it."""
    for event in reversed(events):
        if event.type == "usage":
            usage: Usage = event.usage
            return usage
    return None


def saved_cost(usage: Usage | None, price: Price | None) -> float | None:
    """What a call with ``usage`` cost at ``price`` (``None`` when either is unknown)."""
    if usage is None or price is None:
        return None
    cost = Cost.of(usage, price)
    return None if cost is None else cost.total


def encode_completion(completion: Completion) -> bytes:
    saved = saved_cost(completion.usage, completion.price)
    head = b"" if saved is None else repr(saved).encode()
    return b"%s%s\n%s" % (_COMPLETION, head,
                          completion.model_dump_json(exclude={"trace"}).encode())


def decode_completion(data: bytes) -> tuple[Completion, float | None]:
    """The completion and what it cost."""
    if data[:4] != _COMPLETION:
        raise ValueError("not a completion entry")
    end = data.index(b"\n", 4)
    saved = float(data[4:end]) if end > 4 else None
    return Completion.model_validate_json(data[end + 1:]), saved


def encode_embeddings(result: Any) -> bytes:
    saved = saved_cost(result.usage, result.price)
    head = b"" if saved is None else repr(saved).encode()
    return b"%s%s\n%s" % (_EMBEDDINGS, head, result.model_dump_json(exclude={"trace"}).encode())


def decode_embeddings(data: bytes) -> tuple[Any, float | None]:
    """The embeddings and what they cost."""
    from plugbay.embeddings import Embeddings

    if data[:4] != _EMBEDDINGS:
        raise ValueError("not an embeddings entry")
    end = data.index(b"\n", 4)
    saved = float(data[4:end]) if end > 4 else None
    return Embeddings.model_validate_json(data[end + 1:]), saved


def encode_stream(provider: str, model: str, price: Price | None, saved: float | None,
                  events: Sequence[Any]) -> bytes:
    entry = StreamEntry.model_construct(provider=provider, model=model, price=price,
                                        saved=saved, events=list(events))
    return _STREAM + entry.model_dump_json().encode()


def decode_stream(data: bytes) -> StreamEntry:
    if data[:4] != _STREAM:
        raise ValueError("not a stream entry")
    return StreamEntry.model_validate_json(data[4:])
