"""What the mock answers: text or a tool call, usage, a scripted error, stream chunks.

Everything is a pure function of the request and the options, so the same call always
gets the same answer. Tokens are whitespace-separated words: easy to predict in a test.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from plugbay import errors
from plugbay.types import FinishReason, Request, ToolCall, Usage
from plugbay_mock.options import ECHO, ERROR_KINDS, Options

__all__ = ["DEFAULT_REPLY", "Answer", "answer", "chunks", "scripted_error", "tokens"]

DEFAULT_REPLY = "This is a mock reply from plugbay."
_WORD = re.compile(r"\S+")


def tokens(text: str) -> int:
    """The mock's token count: whitespace-separated words."""
    return len(text.split())


@dataclass(frozen=True)
class Answer:
    text: str
    tool_calls: list[ToolCall]
    finish_reason: FinishReason
    usage: Usage
    id: str


def scripted_error(options: Options, provider: str, why: str) -> errors.APIError:
    """The typed error ``options.error`` names, as a real provider's would arrive."""
    spec = options.error
    if isinstance(spec, int):
        status: int | None = spec
        cls, code, kind = errors.error_for_status(spec), None, str(spec)
    else:
        status, cls, code = ERROR_KINDS[str(spec)]
        kind = str(spec)
    message = f"scripted {kind} error from the mock ({why})"
    return cls(message, provider=provider, status=status, retry_after=options.retry_after,
               code=code, body={"error": {"message": message, "type": kind, "code": code}})


def _last_user_text(request: Request) -> str:
    for message in reversed(request.messages):
        if message.role == "user":
            return message.text()
    return ""


def _input_tokens(request: Request) -> int:
    count = 0
    for message in request.messages:
        count += tokens(message.text())
        for call in message.tool_calls or ():
            count += tokens(f"{call.name} {call.arguments}")
    return count


def _tool_call(request: Request, options: Options, provider: str) -> ToolCall | None:
    """The scripted call, when the request offers tools and the model may call one now."""
    tools = [t.name for t in request.tools or ()]
    choice = request.tool_choice
    if not tools or choice == "none" or (request.messages and
                                         request.messages[-1].role == "tool"):
        return None  # after a tool result the model answers in text: agent loops end
    forced = choice.name if choice is not None and not isinstance(choice, str) else None
    if options.tool_call is None and forced is None and choice != "required":
        return None
    script = options.tool_call or {}
    name = script.get("name") or forced or tools[0]
    if forced is not None and name != forced:
        raise errors.InvalidRequestError(
            f"tool_choice forces {forced!r} but the mock's tool_call names {name!r}",
            provider=provider, code="invalid_mock_parameter")
    if name not in tools:
        raise errors.InvalidRequestError(
            f"the mock's tool_call names {name!r}, which is not among the request's tools "
            f"({', '.join(tools)})", provider=provider, code="invalid_mock_parameter")
    return ToolCall(id="call_mock_0", name=name, arguments=script.get("arguments") or "{}")


def _limit(text: str, max_tokens: int | None) -> tuple[str, bool]:
    """``text`` cut after ``max_tokens`` words; whether it was cut."""
    if max_tokens is None:
        return text, False
    words = list(_WORD.finditer(text))
    if len(words) <= max_tokens:
        return text, False
    return (text[:words[max_tokens - 1].end()] if max_tokens > 0 else ""), True


def answer(request: Request, options: Options, provider: str) -> Answer:
    """The whole answer to ``request`` (the stream sends the same, in pieces)."""
    call = _tool_call(request, options, provider)
    finish: FinishReason
    if call is not None:
        text, calls, finish = "", [call], "tool_calls"
        output = tokens(f"{call.name} {call.arguments}")
    else:
        reply = options.reply
        full = _last_user_text(request) if reply is ECHO else \
            (DEFAULT_REPLY if reply is None else str(reply))
        text, cut = _limit(full, request.max_tokens)
        calls, finish = [], ("length" if cut else "stop")
        output = tokens(text)
    counts = {"input_tokens": _input_tokens(request), "output_tokens": output,
              **options.usage}
    seen = json.dumps([request.model, [m.model_dump(mode="json") for m in request.messages]],
                      sort_keys=True)
    digest = hashlib.sha256(seen.encode()).hexdigest()[:16]
    return Answer(text=text, tool_calls=calls, finish_reason=finish, usage=Usage(**counts),
                  id=f"mock-{digest}")


def chunks(text: str, count: int | None) -> list[str]:
    """``text`` in ``count`` near-equal pieces, or one piece per word (with the space before
    it) when ``count`` is None. The pieces always join back to ``text``."""
    if not text:
        return []
    if count is None:
        pieces = re.findall(r"\s*\S+", text)
        tail = text[sum(map(len, pieces)):]  # trailing whitespace joins the last piece
        if pieces:
            pieces[-1] += tail
        return pieces or [text]
    count = min(count, len(text))
    size, extra = divmod(len(text), count)
    out, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        out.append(text[start:end])
        start = end
    return out
