"""Counts used on the call path: cheap local counts, and the context-window guard.

``cheap_count`` asks a provider's plugin for a count only when the plugin counts
locally (its module says ``token_counter = "local"``: openai and azure, with tiktoken),
never over the network; admission reserves budgets and rate limits with it.

``check_window`` runs before each attempt is sent. When the model's context window is
known (the plugin's model table) and the request might not fit, it counts locally and
refuses a request that cannot fit with ``ContextLengthError``, naming the count and the
limit; no upstream call is made, and a route fails over to a target with a larger
window. A request whose UTF-8 size (an upper bound of its tokens: a token is at least
one byte) fits is never counted, and one with no local count is left to the provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plugbay import errors

if TYPE_CHECKING:
    from plugbay.call import Call
    from plugbay.targets import Target
    from plugbay.tokens import TokenCount
    from plugbay.types import Request

__all__ = ["cheap_count", "check_window", "upper_bound", "window_of"]

_PER_MESSAGE = 8  # role, separators, a name marker: more than any documented overhead
_PER_TOOL = 32


def upper_bound(request: Request) -> int | None:
    """Tokens ``request`` cannot exceed (its UTF-8 bytes plus generous overheads), or
    None when it holds an image (its tokens do not follow from its bytes)."""
    total = 8
    for m in request.messages:
        content = m.content
        if isinstance(content, str):
            total += len(content.encode())
        elif content:
            for part in content:
                if part.type != "text":
                    return None
                total += len(part.text.encode())
        for call in m.tool_calls or ():
            total += len(call.name.encode()) + len(call.arguments.encode()) + _PER_MESSAGE
        total += _PER_MESSAGE + len((m.name or "").encode())
    for tool in request.tools or ():
        total += _PER_TOOL + len(tool.name.encode()) + len((tool.description or "").encode())
        total += len(str(tool.parameters).encode())
    if request.response_format is not None:
        total += len(str(request.response_format.schema_ or "").encode()) + _PER_TOOL
    return total


async def cheap_count(target: Target, request: Request, memo: dict[str, Any],
                      ) -> TokenCount | None:
    """A local count of ``request`` on ``target`` (kept in ``memo``, the call's ``meta``,
    for the next check of the same attempt), or None where there is none."""
    if getattr(target.plugin.obj, "token_counter", None) != "local":
        return None
    key = f"plugbay:tokens:{target.name}/{request.model}"
    if key in memo and memo[key][0] is request:
        counted: TokenCount | None = memo[key][1]
        return counted
    from plugbay.tokens import ON_CALL_PATH, count_tokens

    token = ON_CALL_PATH.set(True)  # no download on a user's call (docs/tokens.md)
    try:
        got: TokenCount | None = await count_tokens(target, request)
    except errors.PlugbayError:
        got = None  # a count is an optimisation here: the call itself decides
    finally:
        ON_CALL_PATH.reset(token)
    if got is not None and got.source != "local":
        got = None
    memo[key] = (request, got)
    return got


def window_of(target: Target, model: str) -> int | None:
    """The context window of ``model`` on ``target`` from its plugin's model table."""
    windows = target.windows
    if model not in windows:
        from plugbay.routing.facts import model_info

        try:
            info = model_info(target.plugin, model, target.name)
        except Exception:  # a plugin's odd table must not break its calls
            info = None
        windows[model] = info.context_window if info is not None else None
    return windows[model]


async def check_window(call: Call) -> None:
    """Refuse ``call``'s attempt locally when its request cannot fit the model's window."""
    target, request = call.target, call.request
    assert target is not None
    window = window_of(target, request.model)
    if window is None:
        return
    out = request.max_tokens or 0
    bound = upper_bound(request)
    if bound is not None and bound + out <= window:
        return
    counted = await cheap_count(target, request, call.meta)
    if counted is None or counted.count + out <= window:
        return
    asked = (f"{counted.count} input tokens + max_tokens {out} = {counted.count + out}"
             if out else f"{counted.count} input tokens")
    raise errors.ContextLengthError(
        f"{target.name}/{request.model}: the request is {asked}, over the model's context "
        f"window of {window} (counted locally, not sent); shorten the messages"
        f"{', lower max_tokens' if out else ''} or use a model with a larger window",
        provider=target.name, code="context_length_exceeded")
