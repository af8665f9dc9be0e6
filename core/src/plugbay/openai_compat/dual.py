"""``ResponsesCapable``: an OpenAI-compatible provider that also serves ``/responses``.

Some models exist only on the Responses API (``gpt-5-pro``, the codex models, ...), so a
provider serving both (OpenAI, Azure OpenAI) picks the wire format per model:

1. the instance's ``wire_api`` option: ``"auto"`` (default), ``"chat"``, ``"responses"``,
   or a table by model id (``{"my-ft" = "responses", "*" = "chat"}``);
2. else the price table's row for the model, ``api = "responses"`` (or ``"chat"``);
3. else ``responses_only(model)``: OpenAI's published Responses-only ids and their
   families (codex, ``*-pro``, deep research, computer use); every other model stays
   on Chat Completions.

The choice is made once per instance and model. The Responses wire format itself is
:mod:`plugbay.openai_compat.responses`; this module only does the choosing and the HTTP.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar, Literal

import plugbay.openai_compat.responses as responses
from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.hookspecs import hookimpl
from plugbay.http.hints import rate_limits
from plugbay.openai_compat.provider import OpenAICompatible
from plugbay.types import Completion, Request, StreamEvent

__all__ = ["RESPONSES_ONLY", "ResponsesCapable", "WireAPI", "responses_only"]

WireAPI = Literal["chat", "responses"]
_CHOICES = ("auto", "chat", "responses")
_SUMMARIES = ("auto", "concise", "detailed")

# OpenAI's OpenAPI spec, schema ModelIdsResponses -> ResponsesOnlyModel (openai/openai-openapi
# f85dbe22, Aug 2026, in ../shared/corpus); checked 2026-12-03.
RESPONSES_ONLY = frozenset({
    "o1-pro", "o3-pro", "o3-deep-research", "o4-mini-deep-research", "computer-use-preview",
    "gpt-5-pro", "gpt-5.5-pro", "gpt-5-codex", "gpt-5.1-codex-max",
})
# The same families by name, for ids newer than that list: OpenAI's model pages call the
# codex and pro models "available in the Responses API only". A chat model caught here
# still works: the Responses API serves every chat model, the reverse is not true.
_FAMILY = re.compile(r"codex|(^|-)pro$|deep-research|^computer-use")
_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|latest)$")


def responses_only(model: str) -> bool:
    """Whether OpenAI serves ``model`` (or its dated snapshot) only on ``/responses``."""
    base = _SNAPSHOT.sub("", model.rsplit("/", 1)[-1])
    return base in RESPONSES_ONLY or _FAMILY.search(base) is not None


class ResponsesCapable(OpenAICompatible):
    """The shared base plus the Responses API, chosen per model (see the module doc)."""

    responses_path: ClassVar[str] = "/responses"
    responses_optional: ClassVar[tuple[str, ...]] = ("user", "metadata")

    # ------------------------------------------------------------ choosing

    def wire_api(self, ctx: ProviderContext, model: str) -> WireAPI:
        """``"chat"`` or ``"responses"`` for ``model`` on this instance (cached)."""
        chosen: dict[str, WireAPI] | None = ctx.state.get("wire_api")
        if chosen is None:
            chosen = ctx.state["wire_api"] = {}
        found = chosen.get(model)
        if found is None:
            found = chosen[model] = self._choose(ctx, model)
        return found

    def _choose(self, ctx: ProviderContext, model: str) -> WireAPI:
        setting = ctx.option("wire_api", "auto")
        if isinstance(setting, Mapping):
            setting = setting.get(model, setting.get("*", "auto"))
        value = str(setting).lower()
        if value not in _CHOICES:
            raise errors.ConfigError(
                f"wire_api must be one of {', '.join(_CHOICES)} (or a table of them by "
                f"model id), not {setting!r}", key=f"providers.{ctx.name}.wire_api")
        if value != "auto":
            return value  # type: ignore[return-value]
        known = self.wire_model(ctx, model)
        table = self.table()
        row = table.row(known) if table else None
        if row is not None and row.get("api") in ("chat", "responses"):
            return row["api"]  # type: ignore[no-any-return]
        return "responses" if responses_only(known) else "chat"

    def wire_model(self, ctx: ProviderContext, model: str) -> str:
        """The model id the choice is made for (Azure: the deployment's base model)."""
        return self.model_id(model)

    def send_model(self, ctx: ProviderContext, model: str) -> str:
        """The ``model`` field sent in a Responses body (Azure: the deployment name)."""
        return self.model_id(model)

    # ------------------------------------------------------------ quirk points

    def responses_url(self, ctx: ProviderContext, model: str) -> str:
        return self.url(ctx, self.responses_path)

    def reasoning_summary(self, ctx: ProviderContext, request: Request) -> str | None:
        """The instance's ``reasoning_summary`` option, for reasoning models only.
        Off by default: OpenAI answers 400 to unverified organisations that ask."""
        summary = ctx.option("reasoning_summary")
        if not summary or str(summary).lower() in ("none", "off", "false"):
            return None
        if str(summary).lower() not in _SUMMARIES:
            raise errors.ConfigError(
                f"reasoning_summary must be one of {', '.join(_SUMMARIES)}, not {summary!r}",
                key=f"providers.{ctx.name}.reasoning_summary")
        known = self.wire_model(ctx, request.model)
        table = self.table()
        row = (table.row(known) if table else None) or {}
        reasons = request.reasoning_effort is not None or responses_only(known) or (
            "reasoning" in (row.get("capabilities") or ()))
        return str(summary).lower() if reasons else None  # non-reasoning models reject it

    def responses_body(self, request: Request, ctx: ProviderContext, *, stream: bool,
                       ) -> dict[str, Any]:
        body = responses.build_body(request, stream=stream, optional=self.responses_optional,
                                    reasoning_summary=self.reasoning_summary(ctx, request))
        body["model"] = self.send_model(ctx, request.model)
        return body

    def responses_extra(self, data: dict[str, Any]) -> dict[str, Any]:
        """Provider-specific fields of a response object for ``Completion.extra``."""
        return {}

    def responses_error_for(self, ctx: ProviderContext) -> responses.ErrorFor:
        return lambda status, headers, raw: self.map_error(status, headers, raw, ctx)

    def _headers_extra(self, ctx: ProviderContext, headers: Mapping[str, str],
                       ) -> dict[str, Any]:
        limits = rate_limits(headers)
        if not limits:
            return {}
        ctx.state["rate_limits"] = limits
        return {"rate_limits": limits}

    # ------------------------------------------------------------ the Responses calls

    async def responses_complete(self, request: Request, ctx: ProviderContext) -> Completion:
        body = self.responses_body(request, ctx, stream=False)
        parsed, data, response = await responses.acomplete(
            ctx, self.responses_url(ctx, request.model), self.headers(ctx), body,
            self.responses_error_for(ctx))
        extra = {**self.responses_extra(data), **self._headers_extra(ctx, response.headers)}
        return Completion(
            text=parsed.text, reasoning=parsed.reasoning, tool_calls=parsed.tool_calls,
            finish_reason=parsed.finish, raw_finish_reason=parsed.raw_finish,
            usage=parsed.usage, model=parsed.model or request.model, provider=ctx.name,
            id=parsed.id, extra=extra)

    async def responses_stream(self, request: Request, ctx: ProviderContext,
                               ) -> AsyncIterator[StreamEvent]:
        body = self.responses_body(request, ctx, stream=True)
        async for event in responses.astream(
                ctx, self.responses_url(ctx, request.model), self.headers(ctx), body,
                self.responses_error_for(ctx), extra_of=self.responses_extra,
                headers_extra=lambda headers: self._headers_extra(ctx, headers)):
            yield event

    # ------------------------------------------------------------ the hooks

    @hookimpl
    async def complete(self, request: Request, provider: ProviderContext) -> Completion:
        if self.wire_api(provider, request.model) == "responses":
            return await self.responses_complete(request, provider)
        return await super().complete(request, provider)

    @hookimpl
    async def stream(self, request: Request, provider: ProviderContext,
                     ) -> AsyncIterator[StreamEvent]:
        if self.wire_api(provider, request.model) == "responses":
            async for event in self.responses_stream(request, provider):
                yield event
            return
        async for event in super().stream(request, provider):
            yield event
