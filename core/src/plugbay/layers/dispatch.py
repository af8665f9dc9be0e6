"""The bottom of the pipeline: call the owning plugin's hook for one attempt.

The target was resolved once (``plugbay.targets``); here its hook function is called
directly under the attempt's timeout, and the result is stamped with latency,
provider instance and price.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any, cast

from plugbay import errors
from plugbay._aio import deadline, within
from plugbay.token_checks import check_window

if TYPE_CHECKING:
    from plugbay.call import Call
    from plugbay.embeddings import Embeddings, EmbedRequest
    from plugbay.types import Completion, StreamEvent

__all__ = ["Dispatch"]

_perf = time.perf_counter
_STAMPED = ("latency", "provider", "price")


class Dispatch:
    """Makes the plugin call. ``timeout``: the client's default when a call has none."""

    name = "dispatch"

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout

    async def complete(self, call: Call) -> Completion:
        target = call.target
        if target is None:
            raise errors.PluginError(f"{call.model!r} reached the plugin call with no "
                                     "provider chosen (is a routing layer missing?)")
        request = call.request
        if target.limits is not None:  # the provider's declared ranges, before any send
            target.limits.check(request, target.name)
        await check_window(call)  # a request that cannot fit is refused here, unsent
        fn = target.complete or target.plugin.impl("complete")
        limit = call.timeout if call.timeout is not None else self.timeout
        started = _perf()
        try:
            if limit is None:
                result = fn(request=request, provider=target.ctx)
                if target.complete_async or isinstance(result, Awaitable):
                    result = await result
            else:
                async with within(limit):
                    result = fn(request=request, provider=target.ctx)
                    if target.complete_async or isinstance(result, Awaitable):
                        result = await result
        except TimeoutError:
            raise errors.TimeoutError(f"no answer within {limit:.3g} s",
                                      provider=target.name) from None
        except errors.PlugbayError:
            raise
        except Exception as exc:  # a plugin bug: wrapped here, at the edge
            raise _foreign(exc, target.name) from exc
        completion: Completion = result
        # Straight into the model's fields: pydantic's __setattr__ costs ~1 us a field.
        fields = completion.__dict__
        fields["latency"] = _perf() - started
        fields["provider"] = target.name
        price = fields["price"]
        if price is None:
            price = fields["price"] = target.price(request.model)
        completion.__pydantic_fields_set__.update(_STAMPED)
        out = call.outcome
        out.provider, out.model, out.price = target.name, completion.model, price
        return completion

    def stream(self, call: Call) -> AsyncIterator[StreamEvent]:
        target = call.target
        if target is None:
            raise errors.PluginError(f"{call.model!r} reached the plugin call with no "
                                     "provider chosen (is a routing layer missing?)")
        out = call.outcome
        out.provider, out.model = target.name, call.request.model
        out.price = target.price(call.request.model)
        limit = call.timeout if call.timeout is not None else self.timeout
        return _events(target.plugin.impl("stream"), call, limit)

    async def embed(self, call: Call) -> Embeddings:
        """The plugin's ``embed`` hook for one batch (``call.request`` an ``EmbedRequest``)."""
        target = call.target
        if target is None:
            raise errors.PluginError(f"{call.model!r} reached the plugin call with no "
                                     "provider chosen (is a routing layer missing?)")
        fn = target.plugin.hooks.get("embed")
        if fn is None:
            raise errors.EmbeddingUnsupportedError(
                f"provider {target.name!r} has no embeddings in plugbay (its plugin "
                "implements no 'embed' hook)")
        request = cast("EmbedRequest", call.request)  # an embed call carries one
        limit = call.timeout if call.timeout is not None else self.timeout
        started = _perf()
        try:
            async with within(limit):
                result = fn(request=request, provider=target.ctx)
                if isinstance(result, Awaitable):
                    result = await result
        except TimeoutError:
            raise errors.TimeoutError(f"no answer within {limit:.3g} s",
                                      provider=target.name) from None
        except errors.PlugbayError:
            raise
        except Exception as exc:  # a plugin bug: wrapped here, at the edge
            raise _foreign(exc, target.name) from exc
        got: Embeddings = result
        if len(got.vectors) != len(request.inputs):
            raise errors.MalformedResponseError(
                f"{len(got.vectors)} vectors came back for {len(request.inputs)} inputs",
                provider=target.name)
        fields = got.__dict__  # as for a completion: not pydantic's __setattr__
        fields["latency"] = _perf() - started
        fields["provider"] = target.name
        if fields["price"] is None:
            fields["price"] = target.price(request.model)
        got.__pydantic_fields_set__.update(_STAMPED)
        out = call.outcome
        out.provider, out.model, out.price = target.name, got.model, fields["price"]
        return got


async def _events(fn: Any, call: Call, limit: float | None) -> AsyncIterator[StreamEvent]:
    """The plugin's stream, bounded by ``limit`` seconds, foreign exceptions wrapped."""
    target = call.target
    assert target is not None
    events: AsyncIterator[StreamEvent] | None = None
    if target.limits is not None:  # the provider's declared ranges, before any send
        target.limits.check(call.request, target.name)
    await check_window(call)
    try:
        events = fn(request=call.request, provider=target.ctx)
        if limit:
            events = deadline(events, limit, target.name)
        async for event in events:
            yield event
    except errors.PlugbayError:
        raise
    except Exception as exc:  # a plugin bug: wrapped here, at the edge
        raise _foreign(exc, target.name) from exc
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


def _foreign(exc: Exception, provider: str) -> errors.PluginCallError:
    return errors.PluginCallError(
        f"the {provider} plugin raised {type(exc).__name__}: {exc}", provider=provider)
