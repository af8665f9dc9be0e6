"""Embeddings: the request, the answer and the limits a plugin declares.

``EmbedRequest`` is what the optional ``embed`` hook receives (one provider request:
at most the provider's batch size of inputs); ``Embeddings`` is what it returns, and
what ``client.embed`` returns after joining the batches in input order. A plugin
declares how many inputs one request may carry, and how long one input may be, as an
``EmbedLimits`` named ``embed_limits`` on its module (as ``param_limits`` is)::

    embed_limits = EmbedLimits(batch=96, max_input_tokens=512,
                               models={"embed-v4": EmbedLimits(batch=96, max_input_tokens=128000)})

``models`` keys are model ids or prefixes of them (the longest match wins).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import PrivateAttr

from plugbay.types import Cost, Message, Price, Usage, _Model

__all__ = ["ENCODINGS", "INPUT_TYPES", "EmbedLimits", "EmbedRequest", "Embeddings",
           "embed_limits_of", "estimate_input_tokens"]

Encoding = Literal["float", "int8", "uint8", "binary", "ubinary", "base64"]
ENCODINGS: tuple[str, ...] = ("float", "int8", "uint8", "binary", "ubinary", "base64")
# The portable task types; a plugin maps each onto its provider's own field, and passes
# any other string through as the provider's own (Gemini's CODE_RETRIEVAL_QUERY, ...).
INPUT_TYPES: tuple[str, ...] = ("query", "document", "classification", "clustering",
                                "similarity")

# One token per this many characters when splitting batches by size (leans high on
# tokens, so a batch stays under the provider's per-request total) ...
CHARS_PER_TOKEN = 3
# ... and when refusing one input locally as too long (leans low, so an input that would
# fit is never refused: a borderline one goes to the provider, which judges exactly).
CHARS_PER_TOKEN_GENEROUS = 6


class EmbedRequest(_Model):
    """One embedding request to one provider: ``inputs`` in order, for ``model`` (the id
    without the provider prefix). ``dimensions``: the output size, for models that can
    shorten their vectors; ``input_type``: one of ``INPUT_TYPES`` or a provider's own;
    ``encoding``: how the vectors come back (``"float"`` lists, ``"int8"``/``"uint8"``/
    ``"binary"``/``"ubinary"`` integer lists, ``"base64"`` strings of little-endian
    float32); ``extra``: passed through to the provider's body."""

    model: str
    inputs: list[str]
    dimensions: int | None = None
    input_type: str | None = None
    encoding: Encoding = "float"
    extra: dict[str, Any] = {}

    # What the route strategies, budget filters and the cache key read from a chat
    # request, answered for an embedding: no tools, no schema, no output tokens, and
    # ``messages`` is the longest input (each input must fit a model's window alone).
    tools: ClassVar[None] = None
    response_format: ClassVar[None] = None
    user: ClassVar[None] = None
    metadata: ClassVar[None] = None
    max_tokens: ClassVar[int] = 0

    @property
    def messages(self) -> list[Message]:
        longest = max(self.inputs, key=len, default="")
        return [Message(role="user", content=longest)]


class Embeddings(_Model):
    """Vectors in input order, with who made them, usage (input tokens) and price.

    ``cost`` is itemised like a completion's; for a list split into batches it is the
    sum of the batches' costs. ``extra["batches"]`` says how many requests were made."""

    vectors: list[list[float]] | list[list[int]] | list[str]
    model: str
    provider: str
    usage: Usage | None = None
    dimensions: int | None = None
    encoding: Encoding = "float"
    latency: float | None = None
    price: Price | None = None
    extra: dict[str, Any] = {}
    trace: Any = None
    _cost: Cost | None = PrivateAttr(default=None)  # summed over batches at two prices

    @property
    def cost(self) -> Cost | None:
        """The itemised cost, or ``None`` when usage or the price is unknown."""
        if self._cost is not None:
            return self._cost
        if self.usage is None or self.price is None:
            return None
        return Cost.of(self.usage, self.price)

    def set_cost(self, cost: Cost | None) -> None:
        """Fix the cost: the sum over batches answered at different prices."""
        self._cost = cost

    def __len__(self) -> int:
        return len(self.vectors)


class EmbedLimits:
    """What one embedding request to a provider may hold: ``batch`` inputs at most,
    each at most ``max_input_tokens`` long, together at most ``batch_tokens``
    (``None``: not limited); ``models`` overrides them per model id or id prefix.

    A plain class, not a dataclass (``dataclasses`` imports ``inspect``)."""

    __slots__ = ("batch", "batch_tokens", "max_input_tokens", "models")

    def __init__(self, batch: int = 1, *, max_input_tokens: int | None = None,
                 batch_tokens: int | None = None,
                 models: dict[str, EmbedLimits] | None = None) -> None:
        if batch < 1:
            raise ValueError(f"EmbedLimits batch must be at least 1, not {batch}")
        self.batch = batch
        self.max_input_tokens = max_input_tokens
        self.batch_tokens = batch_tokens
        self.models = dict(models or {})

    def for_model(self, model: str) -> EmbedLimits:
        """The limits of ``model``: its own entry (or longest prefix), else these."""
        best = ""
        for key in self.models:
            if model.startswith(key) and len(key) > len(best):
                best = key
        return self.models[best] if best else self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EmbedLimits) and (
            self.batch, self.max_input_tokens, self.batch_tokens, self.models) == (
            other.batch, other.max_input_tokens, other.batch_tokens, other.models)

    __hash__ = None  # type: ignore[assignment]  # mutable ``models``

    def __repr__(self) -> str:
        return (f"EmbedLimits(batch={self.batch}, max_input_tokens={self.max_input_tokens}, "
                f"batch_tokens={self.batch_tokens}, models={self.models!r})")


DEFAULT_LIMITS = EmbedLimits(batch=1)  # a plugin that declares nothing: one input a request


def embed_limits_of(plugin_obj: Any) -> EmbedLimits:
    """The plugin's declared ``embed_limits``, else one input per request."""
    limits = getattr(plugin_obj, "embed_limits", None)
    return limits if isinstance(limits, EmbedLimits) else DEFAULT_LIMITS


def estimate_input_tokens(text: str, chars_per_token: int = CHARS_PER_TOKEN) -> int:
    """A tokenizer-free token estimate of one input."""
    return len(text) // chars_per_token + 1
