"""The plugin contract: the five hooks every provider plugin implements.

A plugin is a module (or object) registered under the entry-point group
``plugbay``; the entry-point name is the provider's name. It implements these
hooks with ``@plugbay.hookimpl``. The core resolves the plugin that owns a
provider once, then calls that plugin's implementation directly: the hooks are
never broadcast per request. ``list_models`` and ``health`` are fanned out by
the core to every plugin concurrently, each call isolated from the others.

Every hook may be a plain function or an ``async def`` coroutine function; the
core awaits what needs awaiting. (This is why no hook is declared
``firstresult``: pluggy would take a returned coroutine for a result.)

Each hook receives ``provider``: the :class:`~plugbay.context.ProviderContext`
of the provider instance being called (its name, options, credentials helpers
and the shared HTTP client).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from plugbay.context import ProviderContext
    from plugbay.types import Completion, Health, ModelInfo, Price, Request, StreamEvent

PROJECT = "plugbay"

# The plugin API this plugbay speaks. A plugin declares the one it was built for as a
# module attribute, ``plugin_api = 1``; a plugin built for another is reported broken with
# one line saying which side to upgrade (docs/hooks.md: "Compatibility"). Within one API
# version, hooks and types only grow: new optional hooks, new optional fields.
PLUGIN_API = 1

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ------------------------------------------------------------------ generation


@hookspec
def complete(
    request: Request, provider: ProviderContext
) -> Completion | Awaitable[Completion]:
    """Generate one whole answer for ``request``.

    Result rule: called only on the plugin that owns ``provider``; its return value
    is the result.

    :param request: The provider-neutral request; ``request.model`` is the model id
        without the provider prefix. Pass ``request.extra`` through to the body.
    :param provider: The provider instance: options, credentials and HTTP client.
    :returns: A :class:`~plugbay.types.Completion` with text, tool calls, the
        normalised and the raw finish reason, usage, model and id.
    :async: May be ``async def`` (preferred) or a plain function.
    :never: Never return ``None`` or a partial answer; never raise anything but a
        :mod:`plugbay.errors` class; never print or touch global state; never make
        HTTP calls outside ``provider.http``.
    """
    raise NotImplementedError  # pragma: no cover - a spec has no body


@hookspec
def stream(request: Request, provider: ProviderContext) -> AsyncIterator[StreamEvent]:
    """Generate an answer for ``request`` as a stream of events.

    Result rule: called only on the plugin that owns ``provider``; the returned
    async iterator is the result.

    :param request: As for :func:`complete`.
    :param provider: As for :func:`complete`.
    :returns: An async iterator (usually an ``async def`` generator) of
        :data:`~plugbay.types.StreamEvent`: text, reasoning and tool-call deltas,
        then ``UsageEvent`` (when the provider reports usage) and one ``FinishEvent``.
    :async: Must be an async generator or return an async iterator; it is not awaited.
    :never: Never end without a ``FinishEvent`` when the provider's terminal event
        did not arrive (raise :class:`~plugbay.errors.StreamError` instead); never
        buffer the whole stream; never swallow a mid-stream error event.
    """
    raise NotImplementedError  # pragma: no cover


# ------------------------------------------------------------------ discovery


@hookspec
def list_models(provider: ProviderContext) -> list[ModelInfo] | Awaitable[list[ModelInfo]]:
    """List the models this provider instance offers.

    Result rule: the core calls every loaded plugin concurrently and joins the lists;
    a plugin that raises or hangs is reported and left out, never spoiling the rest.

    :param provider: The provider instance.
    :returns: ``ModelInfo`` items with unique ids (without the provider prefix).
        Merge the live listing with the plugin's own table where it has one.
    :async: May be ``async def`` or a plain function.
    :never: Never return duplicates; never invent capabilities you do not know
        (leave them ``None``).
    """
    raise NotImplementedError  # pragma: no cover


@hookspec
def price(model: str, provider: ProviderContext) -> Price | None:
    """Give the price of ``model``, per million tokens, dated and sourced.

    Result rule: called only on the owning plugin; ``None`` means unknown.

    :param model: The model id without the provider prefix.
    :param provider: The provider instance (its options may carry price overrides).
    :returns: A :class:`~plugbay.types.Price` with ``as_of`` and ``source``, or ``None``.
    :async: Must be a plain function: prices are local data, never a network call.
    :never: Never return a price of 0 for an unknown model; never fetch over the network.
    """
    raise NotImplementedError  # pragma: no cover


@hookspec
def health(provider: ProviderContext) -> Health | Awaitable[Health]:
    """Check, cheaply and without generating text, whether the provider answers.

    Result rule: the core calls every loaded plugin concurrently, each isolated and
    under a deadline; a plugin that raises or hangs is reported as ``down``.

    :param provider: The provider instance.
    :returns: A :class:`~plugbay.types.Health` with status ok, degraded or down.
    :async: May be ``async def`` or a plain function.
    :never: Never raise for a provider that is down (return ``down`` with the
        reason); never spend tokens.
    """
    raise NotImplementedError  # pragma: no cover


HOOK_NAMES = ("complete", "stream", "list_models", "price", "health")


# ------------------------------------------------------------------ provider batch jobs
# Optional: a plugin without them still loads; ``plugbay.batch.jobs`` raises
# ``BatchUnsupportedError`` for a provider whose plugin lacks them.

if TYPE_CHECKING:
    from plugbay.batch.models import BatchItem, BatchJob, BatchResult


@hookspec
def batch_submit(items: list[BatchItem], provider: ProviderContext,
                 ) -> BatchJob | Awaitable[BatchJob]:
    """Submit ``items`` as one asynchronous batch job at the provider's batch price.

    Result rule: called only on the plugin that owns ``provider``; its return value
    is the result.

    :param items: The requests, each with its ``custom_id`` (unique in the job).
    :param provider: The provider instance: options, credentials and HTTP client.
    :returns: The created :class:`~plugbay.batch.models.BatchJob` (usually ``validating``).
    :async: May be ``async def`` (preferred) or a plain function.
    :never: Never submit part of the items silently; never raise anything but a
        :mod:`plugbay.errors` class.
    """
    raise NotImplementedError  # pragma: no cover


@hookspec
def batch_poll(job_id: str, provider: ProviderContext) -> BatchJob | Awaitable[BatchJob]:
    """Report the state and counts of job ``job_id`` (the provider's own id).

    Result rule: called only on the owning plugin; its return value is the result.

    :param job_id: The provider's job id (without the ``provider:`` prefix).
    :param provider: The provider instance.
    :returns: The job, its state normalised to :data:`~plugbay.batch.models.JobState`.
    :async: May be ``async def`` (preferred) or a plain function.
    :never: Never wait for the job to finish; one look per call.
    """
    raise NotImplementedError  # pragma: no cover


@hookspec
def batch_results(job_id: str, provider: ProviderContext) -> AsyncIterator[BatchResult]:
    """Fetch the per-item results of a finished (or expired, or cancelled) job.

    Result rule: called only on the owning plugin; the returned async iterator is
    the result.

    :param job_id: The provider's job id.
    :param provider: The provider instance.
    :returns: An async iterator of :class:`~plugbay.batch.models.BatchResult`, one per
        item the provider reports, each mapped back to its ``custom_id``; per-item
        failures are results with ``error`` set, never raised.
    :async: Must be an async generator or return an async iterator; it is not awaited.
    :never: Never drop an item the provider reported; never buffer results you can
        stream.
    """
    raise NotImplementedError  # pragma: no cover


@hookspec
def batch_cancel(job_id: str, provider: ProviderContext) -> BatchJob | Awaitable[BatchJob]:
    """Ask the provider to cancel job ``job_id``; finished items stay fetchable.

    Result rule: called only on the owning plugin; its return value is the result.

    :param job_id: The provider's job id.
    :param provider: The provider instance.
    :returns: The job as the provider reports it after the request (often ``cancelling``).
    :async: May be ``async def`` (preferred) or a plain function.
    :never: Never report ``cancelled`` before the provider does.
    """
    raise NotImplementedError  # pragma: no cover


BATCH_HOOK_NAMES = ("batch_submit", "batch_poll", "batch_results", "batch_cancel")


# ------------------------------------------------------------------ token counting
# Optional: without it, ``client.count_tokens`` estimates (``exact=False``).

if TYPE_CHECKING:
    from plugbay.tokens import TokenCount


@hookspec
def count_tokens(request: Request, provider: ProviderContext,
                 ) -> TokenCount | Awaitable[TokenCount | None] | None:
    """Count the input tokens ``request`` would be, with the provider's own counter.

    Result rule: called only on the plugin that owns ``provider``; its return value
    is the result.

    :param request: As for :func:`complete` (tools and the system prompt count too).
    :param provider: The provider instance: options, credentials and HTTP client.
    :returns: A :class:`~plugbay.tokens.TokenCount` with ``exact=True`` and
        ``source="provider"``; or one with ``source="local"`` from a local tokenizer
        (``exact`` only where the overhead is documented); or ``None`` when this request
        cannot be counted here (the core then estimates).
    :async: May be ``async def`` (preferred) or a plain function.
    :never: Never generate an answer or spend output tokens; never estimate here (the
        core estimates for a plugin without this hook); never raise anything but a
        :mod:`plugbay.errors` class.
    """
    raise NotImplementedError  # pragma: no cover


TOKEN_HOOK_NAMES = ("count_tokens",)


# ------------------------------------------------------------------ embeddings
# Optional: a plugin without it still loads; ``client.embed`` on its provider raises
# ``EmbeddingUnsupportedError`` naming the providers that have it.

if TYPE_CHECKING:
    from plugbay.embeddings import Embeddings, EmbedRequest


@hookspec
def embed(request: EmbedRequest, provider: ProviderContext,
          ) -> Embeddings | Awaitable[Embeddings]:
    """Embed ``request.inputs`` in one provider request.

    Result rule: called only on the plugin that owns ``provider``; its return value
    is the result.

    :param request: The inputs (at most the batch size the plugin declares in
        ``embed_limits``; the core splits longer lists), the model id without the
        provider prefix, ``dimensions``, ``input_type`` (map it onto the provider's own
        field) and ``encoding``. Pass ``request.extra`` through to the body.
    :param provider: The provider instance: options, credentials and HTTP client.
    :returns: :class:`~plugbay.embeddings.Embeddings` with one vector per input, in
        input order, in the asked encoding, and usage (input tokens) when reported.
    :async: May be ``async def`` (preferred) or a plain function.
    :never: Never reorder, drop or pad vectors (a count that does not match the inputs
        is a :class:`~plugbay.errors.MalformedResponseError`); never split the batch
        yourself; never raise anything but a :mod:`plugbay.errors` class.
    """
    raise NotImplementedError  # pragma: no cover


EMBED_HOOK_NAMES = ("embed",)
