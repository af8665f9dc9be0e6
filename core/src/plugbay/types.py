"""Typed models of the plugbay API (pydantic v2).

Token accounting convention, used by every plugin and by pricing:

- ``Usage.input_tokens`` counts *all* input tokens, including cached reads and cache
  writes; ``cached_input_tokens`` and ``cache_write_tokens`` are subsets of it.
- ``Usage.output_tokens`` counts all output tokens, including reasoning;
  ``reasoning_tokens`` is a subset of it.

Plugins whose provider reports these differently (Anthropic excludes cache tokens
from ``input_tokens``) convert when they build ``Usage``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Completion",
    "Cost",
    "FinishEvent",
    "FinishReason",
    "Health",
    "ImagePart",
    "Message",
    "ModelInfo",
    "Price",
    "ReasoningDelta",
    "Request",
    "ResponseFormat",
    "StreamEvent",
    "TextDelta",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "Usage",
    "UsageEvent",
    "to_messages",
]

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error", "other"]


class _Model(BaseModel):
    # defer_build: a model's validator is built on its first use, not at import, so
    # `from plugbay import Message` does not build every schema up front (issue 12).
    model_config = ConfigDict(extra="forbid", frozen=False, defer_build=True)


# --------------------------------------------------------------------- messages


class TextPart(_Model):
    type: Literal["text"] = "text"
    text: str


class ImagePart(_Model):
    """An image, given either as a URL or as base64 ``data`` with its media type."""

    type: Literal["image"] = "image"
    url: str | None = None
    data: str | None = None
    media_type: str | None = None

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str = "image/png") -> ImagePart:
        return cls(data=base64.b64encode(data).decode("ascii"), media_type=media_type)

    def data_url(self) -> str:
        """The image as a URL: the given one, or a ``data:`` URL built from the bytes."""
        if self.url:
            return self.url
        return f"data:{self.media_type or 'image/png'};base64,{self.data}"


Part = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class ToolCall(_Model):
    """A call the model asked for. ``arguments`` is the raw JSON text the model produced."""

    id: str
    name: str
    arguments: str = "{}"

    @property
    def args(self) -> Any:
        """The arguments parsed as JSON."""
        return json.loads(self.arguments or "{}")


class Message(_Model):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[Part] | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    # Reasoning text or opaque provider data a model needs echoed back (signatures).
    reasoning: str | None = None
    provider_data: dict[str, Any] | None = None

    @classmethod
    def system(cls, text: str) -> Message:
        return cls(role="system", content=text)

    @classmethod
    def user(cls, *content: str | TextPart | ImagePart) -> Message:
        if len(content) == 1 and isinstance(content[0], str):
            return cls(role="user", content=content[0])
        parts = [TextPart(text=c) if isinstance(c, str) else c for c in content]
        return cls(role="user", content=parts)

    @classmethod
    def assistant(cls, text: str | None = None, tool_calls: Sequence[ToolCall] = ()) -> Message:
        return cls(role="assistant", content=text, tool_calls=list(tool_calls) or None)

    @classmethod
    def tool(cls, tool_call_id: str, content: str | Any, name: str | None = None) -> Message:
        text = content if isinstance(content, str) else json.dumps(content)
        return cls(role="tool", tool_call_id=tool_call_id, content=text, name=name)

    def text(self) -> str:
        """The text of the message, with image parts left out."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


def to_messages(messages: str | Message | Mapping[str, Any] | Sequence[Any]) -> list[Message]:
    """Accept a prompt string, a message, a dict, or a sequence of those."""
    if isinstance(messages, str):
        return [Message(role="user", content=messages)]
    if isinstance(messages, (Message, Mapping)):
        messages = [messages]
    return [m if isinstance(m, Message) else Message.model_validate(m) for m in messages]


# ------------------------------------------------------------------------ request


class Tool(_Model):
    name: str
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None


class ToolChoice(_Model):
    """Force one named tool. The other choices are the strings auto, none, required."""

    name: str


class ResponseFormat(_Model):
    """JSON mode (``json_object``) or structured output (``json_schema`` with ``schema``)."""

    type: Literal["text", "json_object", "json_schema"] = "json_schema"
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    name: str = "response"
    strict: bool | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Request(_Model):
    """One chat request, provider-neutral. ``extra`` is merged into the provider's body."""

    model: str
    messages: list[Message]
    # Local floors, checked before any call; each provider's ceiling is its own answer.
    temperature: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=1)
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["auto", "none", "required"] | ToolChoice | None = None
    response_format: ResponseFormat | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    def merge_extra(self, body: dict[str, Any]) -> dict[str, Any]:
        """Merge ``extra`` into a provider body; a dict merges into a dict one level deep,
        so ``extra={"generationConfig": {"topK": 5}}`` adds to what plugbay built."""
        for key, value in self.extra.items():
            current = body.get(key)
            if isinstance(value, Mapping) and isinstance(current, dict):
                body[key] = {**current, **value}
            else:
                body[key] = value
        return body

    def system_text(self) -> str | None:
        """All system messages joined, for providers that take the system prompt apart."""
        texts = [m.text() for m in self.messages if m.role == "system"]
        return "\n\n".join(texts) if texts else None


# ---------------------------------------------------------------------- results


class Usage(_Model):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class Price(_Model):
    """USD (by default) per million tokens. ``None`` means unknown, never free."""

    input: float | None
    output: float | None
    cached_input: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None
    currency: str = "USD"
    as_of: _dt.date
    source: str
    # What a provider batch job pays, as a fraction of these rates (0.5 = half price);
    # ``None``: no batch price known. Dated and sourced by the table's batch_as_of/source.
    batch: float | None = None
    batch_source: str | None = None


class Cost(_Model):
    input: float
    cached_input: float
    cache_write: float
    output: float
    reasoning: float
    total: float
    currency: str = "USD"

    @classmethod
    def of(cls, usage: Usage, price: Price) -> Cost | None:
        """Itemise the cost of ``usage``; ``None`` when a needed price is unknown."""
        if price.input is None or price.output is None:
            return None
        cached_rate = price.cached_input if price.cached_input is not None else price.input
        write_rate = price.cache_write if price.cache_write is not None else price.input
        reasoning_rate = price.reasoning if price.reasoning is not None else price.output
        fresh = max(usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens, 0)
        visible = max(usage.output_tokens - usage.reasoning_tokens, 0)
        m = 1_000_000
        parts = {
            "input": fresh * price.input / m,
            "cached_input": usage.cached_input_tokens * cached_rate / m,
            "cache_write": usage.cache_write_tokens * write_rate / m,
            "output": visible * price.output / m,
            "reasoning": usage.reasoning_tokens * reasoning_rate / m,
        }
        return cls(**parts, total=sum(parts.values()), currency=price.currency)


class Completion(_Model):
    model_config = ConfigDict(extra="forbid")

    text: str = ""
    reasoning: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: FinishReason = "stop"
    raw_finish_reason: str | None = None
    usage: Usage | None = None
    model: str
    provider: str
    id: str | None = None
    latency: float | None = None
    time_to_first_token: float | None = None
    price: Price | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    trace: Any = None

    @property
    def cost(self) -> Cost | None:
        """The itemised cost, or ``None`` when usage or the price is unknown."""
        if self.usage is None or self.price is None:
            return None
        return Cost.of(self.usage, self.price)

    def message(self) -> Message:
        """This completion as an assistant message, to continue the conversation."""
        return Message(
            role="assistant",
            content=self.text or None,
            tool_calls=self.tool_calls or None,
            reasoning=self.reasoning,
            provider_data=self.extra.get("provider_data"),
        )


# ------------------------------------------------------------------ stream events


class TextDelta(_Model):
    type: Literal["text"] = "text"
    text: str


class ReasoningDelta(_Model):
    type: Literal["reasoning"] = "reasoning"
    text: str


class ToolCallDelta(_Model):
    """A fragment of a tool call. ``id`` and ``name`` come with the first fragment."""

    type: Literal["tool_call"] = "tool_call"
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class UsageEvent(_Model):
    type: Literal["usage"] = "usage"
    usage: Usage


class FinishEvent(_Model):
    """The last event. ``extra`` carries provider data known only at the end (cost,
    citations, signatures); it is merged into ``Completion.extra``."""

    type: Literal["finish"] = "finish"
    reason: FinishReason
    raw_reason: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


StreamEvent = Annotated[
    TextDelta | ReasoningDelta | ToolCallDelta | UsageEvent | FinishEvent,
    Field(discriminator="type"),
]


# -------------------------------------------------------------- models and health


class ModelInfo(_Model):
    id: str
    provider: str
    display_name: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    supports_tools: bool | None = None
    supports_vision: bool | None = None
    supports_json_schema: bool | None = None
    supports_streaming: bool | None = True
    supports_reasoning: bool | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class Health(_Model):
    provider: str
    status: Literal["ok", "degraded", "down"]
    latency: float | None = None
    detail: str | None = None
