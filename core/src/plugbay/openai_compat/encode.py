"""A ``Completion`` written back out as OpenAI Chat Completions JSON.

The reverse of ``codec``: what a server speaking the OpenAI wire (the gateway) or a
file in the OpenAI batch output format (the batch runner) sends for one answer.
"""

from __future__ import annotations

import time
from typing import Any

from plugbay.types import Completion, FinishReason, Usage

__all__ = ["chat_completion_json", "finish_reason_out", "usage_json"]

# plugbay's normalised reasons, as the OpenAI wire spells them
_FINISH_OUT: dict[FinishReason, str] = {
    "stop": "stop", "length": "length", "tool_calls": "tool_calls",
    "content_filter": "content_filter", "error": "stop",
}


def finish_reason_out(reason: FinishReason) -> str:
    """The OpenAI ``finish_reason`` for a normalised one."""
    return _FINISH_OUT.get(reason, "stop")


def usage_json(usage: Usage) -> dict[str, Any]:
    """OpenAI ``usage``; ``prompt_tokens`` counts cached input too, as OpenAI's does."""
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def chat_completion_json(completion: Completion, *, id: str | None = None,
                         model: str | None = None, created: int | None = None) -> dict[str, Any]:
    """One ``chat.completion`` object; ``model`` defaults to the one that answered."""
    message: dict[str, Any] = {"role": "assistant", "content": completion.text or None}
    if completion.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in completion.tool_calls
        ]
    elif message["content"] is None:
        message["content"] = ""
    if completion.reasoning:
        message["reasoning_content"] = completion.reasoning
    body: dict[str, Any] = {
        "id": id or completion.id or "chatcmpl-plugbay",
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": model or completion.model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": finish_reason_out(completion.finish_reason)}],
    }
    if completion.usage is not None:
        body["usage"] = usage_json(completion.usage)
    return body
