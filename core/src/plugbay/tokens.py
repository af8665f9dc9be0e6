"""``client.count_tokens``: how many input tokens a request would be, before sending it.

A provider whose plugin implements the optional ``count_tokens`` hook answers with its
own count (Anthropic's ``/v1/messages/count_tokens``, Gemini's ``countTokens``), marked
exact, or counts locally (OpenAI and Azure with tiktoken, ``source="local"``); any other,
or a plugin that returns ``None`` for a request it cannot count, gets plugbay's estimate
(about 3 characters a token, plus a few per message and the tools' schemas: the one the
budgets reserve with), marked not exact.
"""

from __future__ import annotations

from collections.abc import Awaitable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from plugbay import errors

if TYPE_CHECKING:
    from plugbay.targets import Target
    from plugbay.types import Request

__all__ = ["ON_CALL_PATH", "TokenCount", "count_tokens", "provider_count"]

# True while a count is taken on the call path (budgets, the context-window check,
# plugbay.token_checks): a local counter must then not reach the network either, e.g.
# to download a tokenizer file; it returns None instead and the caller estimates.
ON_CALL_PATH: ContextVar[bool] = ContextVar("plugbay_tokens_on_call_path", default=False)


class TokenCount:
    """``count`` input tokens; ``exact`` when counted by a documented rule (the provider's
    own counter, or a local tokenizer on shapes whose overhead is documented);
    ``source``: ``"provider"``, ``"local"`` or ``"estimate"``."""

    __slots__ = ("count", "exact", "model", "provider", "source")

    def __init__(self, count: int, *, exact: bool, source: str, provider: str = "",
                 model: str = "") -> None:
        self.count = count
        self.exact = exact
        self.source = source
        self.provider = provider
        self.model = model

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenCount) and (self.count, self.exact, self.source) == (
            other.count, other.exact, other.source)

    def __repr__(self) -> str:
        return (f"TokenCount({self.count}, exact={self.exact}, source={self.source!r}, "
                f"provider={self.provider!r}, model={self.model!r})")


def provider_count(data: dict[str, Any], field: str, provider: str) -> TokenCount:
    """A plugin's exact count from the provider's answer ``data[field]``; a body without
    an integer there is a ``MalformedResponseError``."""
    value = data.get(field)
    if not isinstance(value, int) or isinstance(value, bool):
        raise errors.MalformedResponseError(
            f"the token count answer has no integer {field!r}", provider=provider)
    return TokenCount(value, exact=True, source="provider")


async def count_tokens(target: Target, request: Request) -> TokenCount:
    """Ask ``target``'s plugin, or estimate when it has no ``count_tokens`` hook."""
    fn = target.plugin.hooks.get("count_tokens")
    if fn is None:
        return _estimate(target, request)
    try:
        result: Any = fn(request=request, provider=target.ctx)
        if isinstance(result, Awaitable):
            result = await result
    except errors.PlugbayError:
        raise
    except Exception as exc:  # a plugin bug: wrapped at the edge, as dispatch does
        raise errors.PluginCallError(
            f"the {target.name} plugin raised {type(exc).__name__}: {exc}",
            provider=target.name) from exc
    if result is None:  # the plugin cannot count this one (e.g. no tiktoken encoding file)
        return _estimate(target, request)
    if not isinstance(result, TokenCount):
        raise errors.PluginCallError(
            f"the {target.name} plugin's count_tokens returned {type(result).__name__}, "
            "not a TokenCount", provider=target.name)
    result.provider, result.model = target.name, request.model
    return result


def _estimate(target: Target, request: Request) -> TokenCount:
    from plugbay.cost.budgets import estimate_tokens

    return TokenCount(estimate_tokens(request), exact=False, source="estimate",
                      provider=target.name, model=request.model)
