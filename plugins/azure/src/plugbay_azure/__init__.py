"""Azure OpenAI for plugbay: the OpenAI-compatible base with Azure's URLs, auth and filters.

Two URL styles: classic deployments
(``{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...``) and the
v1 API (``{endpoint}/openai/v1/chat/completions``, option ``api = "v1"``). Chat
Completions or the Responses API is chosen per model as for OpenAI (``wire_api``,
:mod:`plugbay.openai_compat.dual`): Responses goes to ``{endpoint}/openai/v1/responses``
or, classic, ``{endpoint}/openai/responses?api-version=...`` with the deployment as the
body's ``model``. Auth is an ``api-key`` header, or an Entra ID bearer token from a
credential (see :mod:`plugbay_azure.auth`; azure-identity is imported lazily). Model ids
map to deployments through the ``deployments`` option; prices are looked up by base model.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.embeddings import Embeddings, EmbedLimits, EmbedRequest
from plugbay.hookspecs import hookimpl
from plugbay.http.hints import rate_limits
from plugbay.openai_compat import ResponsesCapable, probe
from plugbay.openai_compat import codec as oai
from plugbay.openai_compat.batch import OpenAIBatchAPI
from plugbay.openai_compat.embed import OpenAIEmbeddings
from plugbay.openai_compat.tokens import OpenAITokenCounter
from plugbay.params import ParamLimits
from plugbay.types import Completion, Health, ModelInfo, Price, Request, StreamEvent
from plugbay_azure.auth import SCOPE, EntraToken

__all__ = ["DEFAULT_API_VERSION", "Azure", "complete", "count_tokens", "embed", "health",
           "list_models", "plugin", "price", "stream"]

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)

# The newest GA data-plane inference version (checked 2026-11-22); previews are opt-in.
DEFAULT_API_VERSION = "2024-10-21"
# Classic /openai/responses exists only in previews from 2025-03-01-preview; this one is
# documented and seen answering (checked 2026-12-03). The v1 URL needs no version.
RESPONSES_API_VERSION = "2025-04-01-preview"
ENDPOINT_ENV = ("AZURE_OPENAI_ENDPOINT",)
VERSION_ENV = ("AZURE_OPENAI_API_VERSION", "OPENAI_API_VERSION")
_FILTER_CODES = ("content_filter", "ResponsibleAIPolicyViolation")


class Azure(OpenAITokenCounter, OpenAIEmbeddings, OpenAIBatchAPI, ResponsesCapable):
    name = "azure"
    api_key_env = ("AZURE_OPENAI_API_KEY", "AZURE_API_KEY")
    price_package = __name__

    # ------------------------------------------------------------ configuration

    def settings(self, ctx: ProviderContext) -> dict[str, Any]:
        """Endpoint, URL style and api-version, resolved once per instance."""
        cached = ctx.state.get("settings")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        endpoint = ctx.setting("endpoint", *ENDPOINT_ENV) or ctx.setting("base_url")
        if not endpoint:
            raise errors.ConfigError(
                "no Azure OpenAI endpoint: set AZURE_OPENAI_ENDPOINT or `endpoint` "
                "(https://<resource>.openai.azure.com)", key=f"providers.{ctx.name}.endpoint")
        endpoint = endpoint.rstrip("/")
        api = str(ctx.option("api") or "").lower()
        # Tolerate a pasted SDK base URL: .../openai/v1 means the v1 API.
        if endpoint.endswith("/openai/v1"):
            endpoint, api = endpoint[:-len("/openai/v1")], api or "v1"
        elif endpoint.endswith("/openai"):
            endpoint = endpoint[:-len("/openai")]
        if api not in ("", "v1", "deployments"):
            raise errors.ConfigError(
                f"api is the URL style, 'deployments' or 'v1', not {api!r} (the Responses "
                "API is chosen with wire_api)", key=f"providers.{ctx.name}.api")
        api = "v1" if api == "v1" else "deployments"
        version = ctx.setting("api_version", *VERSION_ENV, default=DEFAULT_API_VERSION) or ""
        modern = api == "v1" or _newer_than_ga(version)
        cached = ctx.state["settings"] = {
            "endpoint": endpoint, "api": api, "api_version": version,
            # GA 2024-10-21 knows only max_tokens and no stream_options; later versions
            # (and v1) take max_completion_tokens, which reasoning models require.
            "max_tokens_field": ctx.option("max_tokens_field") or (
                "max_completion_tokens" if modern else "max_tokens"),
            "include_usage": bool(ctx.option("include_usage", modern)),
            "responses_api_version": ctx.option("responses_api_version") or (
                version if _has_responses(version) else RESPONSES_API_VERSION),
        }
        return cached

    def deployments(self, ctx: ProviderContext) -> Mapping[str, Any]:
        value = ctx.option("deployments") or {}
        if not isinstance(value, Mapping):
            raise errors.ConfigError("`deployments` must map model ids to deployment names",
                                     key=f"providers.{ctx.name}.deployments")
        return value

    def deployment(self, ctx: ProviderContext, model: str) -> str:
        """The deployment serving ``model``; an unmapped id is the deployment name itself."""
        entry = self.deployments(ctx).get(model)
        if isinstance(entry, str):
            return entry
        if isinstance(entry, Mapping):
            return str(entry.get("deployment") or model)
        return model

    def base_model(self, ctx: ProviderContext, model: str) -> str:
        """The base model behind ``model`` (a model id or a deployment name), for prices."""
        table = self.deployments(ctx)
        entry = table.get(model)
        if isinstance(entry, Mapping):
            return str(entry.get("model") or model)
        if entry is not None:
            return model
        for key, value in table.items():  # called by its deployment name
            name = value.get("deployment") if isinstance(value, Mapping) else value
            if name == model:
                return str(value.get("model") or key) if isinstance(value, Mapping) else key
        return model

    # ------------------------------------------------------------ URLs and body

    def url(self, ctx: ProviderContext, path: str) -> str:
        return self.settings(ctx)["endpoint"] + path  # type: ignore[no-any-return]

    def chat_url(self, ctx: ProviderContext, model: str) -> str:
        s = self.settings(ctx)
        if s["api"] == "v1":
            return self.url(ctx, "/openai/v1/chat/completions")
        return self.url(ctx, f"/openai/deployments/{quote(model, safe='')}/chat/completions"
                             f"?api-version={quote(s['api_version'])}")

    def embed_model(self, ctx: ProviderContext, model: str) -> str:
        return self.deployment(ctx, model)

    def embed_url(self, ctx: ProviderContext, model: str) -> str:
        s = self.settings(ctx)
        if s["api"] == "v1":
            return self.url(ctx, "/openai/v1/embeddings")
        return self.url(ctx, f"/openai/deployments/{quote(model, safe='')}/embeddings"
                             f"?api-version={quote(s['api_version'])}")

    def responses_url(self, ctx: ProviderContext, model: str) -> str:
        s = self.settings(ctx)
        if s["api"] == "v1":
            return self.url(ctx, "/openai/v1/responses")
        return self.url(ctx, f"/openai/responses?api-version={quote(s['responses_api_version'])}")

    def models_url(self, ctx: ProviderContext) -> str:
        s = self.settings(ctx)
        if s["api"] == "v1":
            return self.url(ctx, "/openai/v1/models")
        return self.url(ctx, f"/openai/models?api-version={quote(s['api_version'])}")

    def body(self, request: Request, ctx: ProviderContext, *, stream: bool) -> dict[str, Any]:
        s = self.settings(ctx)
        body = oai.build_body(request, stream=stream, max_tokens_field=s["max_tokens_field"],
                              seed_field=self.seed_field, include_usage=s["include_usage"])
        # v1 routes on the body's model (the deployment name); classic ignores it.
        body["model"] = self.deployment(ctx, request.model)
        return body

    def send_model(self, ctx: ProviderContext, model: str) -> str:
        return self.deployment(ctx, model)  # /responses routes on it, in both URL styles

    def wire_model(self, ctx: ProviderContext, model: str) -> str:
        return self.base_model(ctx, model)  # what the deployment runs decides the API

    def token_model(self, ctx: ProviderContext, model: str) -> str:
        return self.base_model(ctx, model)  # and its tokenizer

    # ------------------------------------------------------------ batch jobs

    batch_endpoint = "/chat/completions"  # each line's model is the deployment name

    def batch_url(self, ctx: ProviderContext, path: str) -> str:
        s = self.settings(ctx)
        if s["api"] == "v1":
            return self.url(ctx, f"/openai/v1{path}")
        return self.url(ctx, f"/openai{path}?api-version={quote(s['api_version'])}")

    async def batch_prepare(self, ctx: ProviderContext) -> None:
        await self.prepare(ctx)

    # ------------------------------------------------------------ auth

    def headers(self, ctx: ProviderContext) -> dict[str, str]:
        auth = ctx.state.get("auth")
        if auth is None:  # an api key needs no I/O; tokens are set by prepare()
            auth = self.key_headers(ctx)
        return dict(auth)

    def key_headers(self, ctx: ProviderContext) -> dict[str, str]:
        key = ctx.api_key(*self.api_key_env, required=True)
        return {"api-key": key or ""}

    def use_entra(self, ctx: ProviderContext) -> bool:
        mode = str(ctx.option("auth") or "").lower()
        if mode in ("key", "api-key", "api_key"):
            return False
        if mode in ("entra", "entra_id", "aad", "token") or ctx.option("credential") is not None:
            return True  # an explicit credential wins over a key, as in openai-python
        return ctx.api_key(*self.api_key_env, required=False) is None

    def token(self, ctx: ProviderContext) -> EntraToken:
        token = ctx.state.get("entra")
        if token is None:
            token = ctx.state["entra"] = EntraToken(
                ctx.option("credential"), scope=str(ctx.option("scope") or SCOPE),
                provider=ctx.name)
        return token

    async def prepare(self, ctx: ProviderContext) -> None:
        """Set the auth header for the next request: a key, or a token fresh enough."""
        if "use_entra" not in ctx.state:
            ctx.state["use_entra"] = self.use_entra(ctx)
        if not ctx.state["use_entra"]:
            ctx.state["auth"] = self.key_headers(ctx)
            return
        bearer = await self.token(ctx).get()
        ctx.state["auth"] = {"Authorization": f"Bearer {bearer}"}

    # ------------------------------------------------------------ quirks

    def completion_extra(self, data: dict[str, Any]) -> dict[str, Any]:
        """Azure's content-filter annotations, from a response or a stream chunk."""
        extra: dict[str, Any] = {}
        if data.get("prompt_filter_results"):
            extra["prompt_filter_results"] = data["prompt_filter_results"]
        for choice in data.get("choices") or ():
            if choice.get("index", 0) == 0 and choice.get("content_filter_results"):
                extra["content_filter_results"] = choice["content_filter_results"]
        return extra

    def error_class(self, status: int, code: str | None, message: str,
                    ) -> type[errors.APIError] | None:
        if code in _FILTER_CODES:
            return errors.ContentFilterError
        if code == "DeploymentNotFound":
            return errors.ModelNotFoundError
        return super().error_class(status, code, message)

    def map_error(self, status: int, headers: Mapping[str, str], raw: Any,
                  ctx: ProviderContext) -> errors.APIError:
        exc = super().map_error(status, headers, raw, ctx)
        body = exc.body if isinstance(exc.body, dict) else {}
        inner = (body.get("error") or {}).get("innererror") if isinstance(
            body.get("error"), dict) else None
        if isinstance(inner, dict) and inner.get("code") in _FILTER_CODES and not isinstance(
                exc, errors.ContentFilterError):
            exc = errors.ContentFilterError(exc.message, provider=exc.provider,
                                            status=exc.status, request_id=exc.request_id,
                                            body=exc.body, code=exc.code)
        token = ctx.state.get("entra")
        if token is not None and token.token:  # the bearer token is no config secret
            exc.message = errors.redact(exc.message, [token.token])
            exc.body = errors.redact(exc.body, [token.token])
        limits = rate_limits(headers)
        if limits:  # remaining requests/tokens, also when throttled
            ctx.state["rate_limits"] = limits
        return exc

    # ------------------------------------------------------------ the hooks

    @hookimpl
    async def complete(self, request: Request, provider: ProviderContext) -> Completion:
        await self.prepare(provider)
        return await super().complete(request, provider)

    @hookimpl
    async def embed(self, request: EmbedRequest, provider: ProviderContext) -> Embeddings:
        await self.prepare(provider)  # a key, or an Entra token fresh enough
        return await super().embed(request, provider)

    @hookimpl
    async def stream(self, request: Request, provider: ProviderContext,
                     ) -> AsyncIterator[StreamEvent]:
        await self.prepare(provider)
        async for event in super().stream(request, provider):
            yield event

    @hookimpl
    async def list_models(self, provider: ProviderContext) -> list[ModelInfo]:
        """Configured deployments first, then the resource's base models when reachable."""
        table = self.table()
        found: dict[str, ModelInfo] = {}
        for model in self.deployments(provider):
            info = table.info(self.base_model(provider, model), provider.name) if table \
                else ModelInfo(id=model, provider=provider.name)
            info.id = model
            info.extra["deployment"] = self.deployment(provider, model)
            info.extra["base_model"] = self.base_model(provider, model)
            found[model] = info
        try:
            await self.prepare(provider)
            response = await provider.http.request("GET", self.models_url(provider),
                                                   headers=self.headers(provider), timeout=30.0)
            items = self.parse_models(response.json()) if response.status < 400 else []
        except (errors.PlugbayError, ValueError):
            items = []  # the listing is a bonus: the configured deployments still list
        for item in items:
            info = found.setdefault(item["id"], self.model_info(item, provider))
            for key in ("capabilities", "lifecycle_status", "deprecation"):
                if item.get(key) is not None:
                    info.extra.setdefault(key, item[key])
        return list(found.values())

    @hookimpl
    def price(self, model: str, provider: ProviderContext) -> Price | None:
        table = self.table()
        return table.price(self.base_model(provider, model)) if table else None

    @hookimpl
    async def health(self, provider: ProviderContext) -> Health:
        started = time.perf_counter()
        try:
            await self.prepare(provider)
            url = self.models_url(provider)
        except errors.PlugbayError as exc:
            return Health(provider=provider.name, status="down", detail=str(exc),
                          latency=time.perf_counter() - started)
        return await probe(provider, lambda: provider.http.request(
            "GET", url, headers=self.headers(provider), timeout=10.0), self.map_error)


def _newer_than_ga(version: str) -> bool:
    """Whether ``version`` postdates the 2024-10-21 GA (previews from 2024-09-01 do too)."""
    date = version[:10]
    return date > DEFAULT_API_VERSION or (version.endswith("preview") and date >= "2024-09-01")


def _has_responses(version: str) -> bool:
    """Whether a classic api-version serves ``/openai/responses`` (previews from 2025-03-01)."""
    return version[:4].isdigit() and version[:10] >= "2025-03-01" and version.endswith(
        "preview")


# The ranges the API accepts (Azure OpenAI's REST reference: temperature 0 to 2, top_p 0 to 1);
# a request outside them is refused before it is sent.
param_limits = ParamLimits(temperature=(0.0, 2.0), top_p=(0.0, 1.0))

# Embeddings as OpenAI's: 2048 inputs a request, 8192 tokens each (Azure OpenAI's REST
# reference for embeddings `input`, read 2026-12-04).
embed_limits = EmbedLimits(batch=2048, max_input_tokens=8192, batch_tokens=300_000)

plugin = Azure()
complete, stream, list_models, price, health = plugin.hookimpls()
batch_submit, batch_poll, batch_results, batch_cancel = plugin.batch_hookimpls()
embed = plugin.embed
count_tokens = plugin.count_tokens  # local, with tiktoken
token_counter = "local"  # cheap: budgets and the context-window check use it per call
