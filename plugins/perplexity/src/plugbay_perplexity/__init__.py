"""Perplexity for plugbay: the Agent API (Responses format), with Sonar chat as legacy.

Perplexity's docs (checked 2026-11-22) say Sonar Chat Completions were supported until
2026-09-27 and point to the Agent API: ``POST /v1/agent`` (same surface as
``/v1/responses``), OpenAI Responses format, strict about unknown fields. So requests go
to the Agent API by default, through the shared Responses codec
(``plugbay.openai_compat.responses``). Model ids: provider-prefixed slugs
(``perplexity/sonar``, ``openai/gpt-5.1``), preset names (``fast``, ``low``, ``medium``,
``high``, ``xhigh`` and their old names), or the legacy Sonar names, which are mapped the
way Perplexity's migration guide suggests. ``api = "sonar"`` sends Chat Completions to
``/chat/completions`` instead, for anything still serving it.

Search sources become ``Completion.extra["search_results"]`` and ``["citations"]`` (the
URLs, once each); ``usage.cost`` becomes ``extra["cost"]``. The Responses calls are the
shared ones of :class:`plugbay.openai_compat.ResponsesCapable`, with the API chosen by
``api`` rather than per model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.hookspecs import hookimpl
from plugbay.http.hints import api_error
from plugbay.openai_compat import ResponsesCapable, parse_error_body, responses
from plugbay.openai_compat.dual import WireAPI
from plugbay.types import Completion, ModelInfo, Price, Request

PRESETS = frozenset({"fast", "low", "medium", "high", "xhigh", "fast-search", "pro-search",
                     "deep-research", "advanced-deep-research"})
# Legacy Sonar ids -> Agent API (model slug or preset), per Perplexity's migration guide.
LEGACY = {"sonar": ("model", "perplexity/sonar"), "sonar-pro": ("preset", "low"),
          "sonar-reasoning": ("preset", "low"), "sonar-reasoning-pro": ("preset", "low"),
          "sonar-deep-research": ("preset", "medium")}


def _urls(*groups: Any) -> list[str]:
    seen: dict[str, None] = {}
    for group in groups:
        for item in group or ():
            url = item if isinstance(item, str) else (
                item.get("url") if isinstance(item, Mapping) else None)
            if url:
                seen.setdefault(url, None)
    return list(seen)


def agent_extra(data: Mapping[str, Any]) -> dict[str, Any]:
    """Sources, citations and cost from an Agent API response object."""
    results: list[Any] = []
    queries: list[Any] = []
    annotations: list[Any] = []
    for item in data.get("output") or ():
        if not isinstance(item, Mapping):
            continue
        if item.get("type", "").endswith("search_results"):  # web and people search
            results += item.get("results") or []
            queries += item.get("queries") or []
        elif item.get("type") == "message":
            for part in item.get("content") or ():
                annotations += [a for a in part.get("annotations") or ()
                                if isinstance(a, Mapping) and a.get("type") == "url_citation"]
    extra: dict[str, Any] = {}
    if results or annotations:
        extra["search_results"] = results
        extra["citations"] = _urls(results, annotations)
    if queries:
        extra["search_queries"] = queries
    usage = data.get("usage") or {}
    if usage.get("cost") is not None:
        extra["cost"] = usage["cost"]
    if usage.get("tool_calls_details"):
        extra["tool_calls_details"] = usage["tool_calls_details"]
    return extra


def sonar_extra(data: Mapping[str, Any]) -> dict[str, Any]:
    """Citations, sources and cost from a Sonar chat completion (or one stream chunk)."""
    extra: dict[str, Any] = {}
    if data.get("search_results") is not None or data.get("citations") is not None:
        extra["search_results"] = data.get("search_results") or []
        extra["citations"] = _urls(data.get("citations"), data.get("search_results"))
    for key in ("related_questions", "images", "videos"):
        if data.get(key):
            extra[key] = data[key]
    cost = (data.get("usage") or {}).get("cost")
    if cost is not None:
        extra["cost"] = cost
    return extra


class Perplexity(ResponsesCapable):
    name = "perplexity"
    default_base_url = "https://api.perplexity.ai"
    api_key_env = ("PERPLEXITY_API_KEY", "PPLX_API_KEY")
    agent_path = "/v1/agent"
    models_path = "/v1/models"  # the Agent API's public model list
    models_need_key = False
    price_package = __name__

    # ------------------------------------------------------------ routing

    def url(self, ctx: ProviderContext, path: str) -> str:
        base = ctx.base_url(self.default_base_url).removesuffix("/v1")  # OpenAI-SDK style
        return f"{base}{path}"

    def api(self, ctx: ProviderContext) -> str:
        mode = str(ctx.setting("api") or "agent").lower()
        if mode not in ("agent", "sonar"):
            raise errors.ConfigError(f"api must be 'agent' or 'sonar', not {mode!r}",
                                     key=f"providers.{ctx.name}.api")
        return mode

    def wire_api(self, ctx: ProviderContext, model: str) -> WireAPI:
        return "chat" if self.api(ctx) == "sonar" else "responses"

    def responses_url(self, ctx: ProviderContext, model: str) -> str:
        return self.url(ctx, self.agent_path)

    def preset(self, model: str) -> str | None:
        """The Agent API preset ``model`` names (directly or as a legacy Sonar id)."""
        kind, target = LEGACY.get(model, ("model", model))
        return target if kind == "preset" or target in PRESETS else None

    def responses_body(self, request: Request, ctx: ProviderContext, *, stream: bool,
                       ) -> dict[str, Any]:
        body = responses.build_body(request, stream=stream, response_format="top_level",
                                    tool_choice="name", optional=("metadata",))
        preset = self.preset(request.model)
        if preset:
            del body["model"]
            body["preset"] = preset  # presets bundle their own tools, web search included
        else:
            body["model"] = LEGACY.get(request.model, ("model", request.model))[1]
            search = ctx.option("web_search", True)
            tools = body.get("tools") or []
            if search and "tools" not in request.extra and not any(
                    t.get("type") == "web_search" for t in tools):
                # The Agent API searches only when offered the tool; Sonar always did.
                body["tools"] = [*tools, {"type": "web_search"}]
        return body

    # ------------------------------------------------------------ errors

    def error_class(self, status: int, code: str | None, message: str,
                    ) -> type[errors.APIError] | None:
        if code in ("invalid_model", "model_not_found") or "invalid model" in message.lower():
            return errors.ModelNotFoundError
        if code in ("request_rate_limit_exceeded", "rate_limit_exceeded"):
            return errors.RateLimitError
        if code == "forbidden" and status in (401, 403):
            return errors.AuthenticationError if status == 401 else errors.PermissionDeniedError
        return super().error_class(status, code, message)

    def map_error(self, status: int, headers: Mapping[str, str], raw: Any,
                  ctx: ProviderContext) -> errors.APIError:
        message, code, body = parse_error_body(raw)
        err = body.get("error") if isinstance(body, dict) else None
        kind = err.get("type") if isinstance(err, dict) else None  # the code is the status
        if status == 200:  # a failed run reported inside a 200 body or stream
            status = responses.failure_status(err)
        return api_error(status, headers, message, provider=ctx.name, body=body,
                         cls=self.error_class(status, kind or code, message),
                         code=kind or code, secrets=ctx.secrets())

    # ------------------------------------------------------------ Sonar (legacy) quirks

    def completion_extra(self, data: dict[str, Any]) -> dict[str, Any]:
        return sonar_extra(data)

    def on_chunk(self, chunk: dict[str, Any], state: dict[str, Any]) -> None:
        # Every Sonar chunk repeats the sources and the usage so far: keep one copy of
        # the sources (the first), and the latest (cumulative) cost.
        extra = sonar_extra(chunk)
        collected = state.setdefault("extra", {})
        for key, value in extra.items():
            if key == "cost" or key not in collected:
                collected[key] = value

    # ------------------------------------------------------------ the Agent API

    def responses_extra(self, data: dict[str, Any]) -> dict[str, Any]:
        return agent_extra(data)

    async def responses_complete(self, request: Request, ctx: ProviderContext) -> Completion:
        completion = await super().responses_complete(request, ctx)
        preset = self.preset(request.model)
        if preset:
            completion.extra["preset"] = preset
        return completion

    # ------------------------------------------------------------ the hooks

    @hookimpl
    async def list_models(self, provider: ProviderContext) -> list[ModelInfo]:
        """The Agent API's public list plus the presets; the Sonar table in legacy mode."""
        table = self.table()
        if self.api(provider) == "sonar":
            return table.model_infos(provider.name) if table else []
        found = {m.id: m for m in await super().list_models(provider)
                 if m.id not in LEGACY}  # table rows are the legacy Sonar models
        for preset in ("fast", "low", "medium", "high", "xhigh"):
            found.setdefault(preset, ModelInfo(id=preset, provider=provider.name,
                                               extra={"preset": True}))
        return list(found.values())

    @hookimpl
    def price(self, model: str, provider: ProviderContext) -> Price | None:
        # Only the legacy Sonar token prices are published per model id; Agent API runs
        # are priced per response (extra["cost"]), presets and slugs vary by run.
        if self.api(provider) != "sonar":
            return None
        table = self.table()
        return table.price(model) if table else None

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
plugin = Perplexity()
complete, stream, list_models, price, health = plugin.hookimpls()
