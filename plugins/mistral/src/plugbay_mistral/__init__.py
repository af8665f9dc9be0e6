"""Mistral AI for plugbay: OpenAI-compatible Chat Completions with Mistral's quirks.

The base already reads Magistral's array content (``thinking`` parts become reasoning,
``text`` parts the answer) and maps ``model_length`` to ``length``. Mistral's own:
``random_seed``, 9-character alphanumeric tool-call ids (with ``name`` on tool messages),
its error bodies (``{"message": ...}`` and 422 ``{"message": {"detail": [...]}}``) and the
capabilities in its model listing.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Mapping
from typing import Any

from plugbay import errors
from plugbay.context import ProviderContext
from plugbay.embeddings import EmbedLimits
from plugbay.http.hints import api_error
from plugbay.openai_compat import OpenAICompatible, parse_error_body
from plugbay.openai_compat.embed import OpenAIEmbeddings
from plugbay.types import ModelInfo, Request
from plugbay_mistral.batch import MistralBatch

_VALID_ID = re.compile(r"^[A-Za-z0-9]{9}$")
_ALPHABET = string.ascii_letters + string.digits


def tool_call_id(raw: str) -> str:
    """``raw`` if Mistral accepts it, else a stable 9-character alphanumeric id for it.

    Stable, so an assistant message's call and the tool message answering it (both
    rewritten independently) still match; ids from other providers become valid.
    """
    if _VALID_ID.match(raw):
        return raw
    number = int.from_bytes(hashlib.sha256(raw.encode()).digest()[:8], "big")
    out = []
    for _ in range(9):
        number, digit = divmod(number, len(_ALPHABET))
        out.append(_ALPHABET[digit])
    return "".join(out)


def fix_tool_messages(messages: list[dict[str, Any]]) -> None:
    """Make tool-call ids valid and give every tool message the function ``name``."""
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or ():
            call["id"] = tool_call_id(str(call.get("id") or ""))
            names[call["id"]] = call.get("function", {}).get("name", "")
        if message.get("role") == "tool" and message.get("tool_call_id"):
            message["tool_call_id"] = tool_call_id(str(message["tool_call_id"]))
            if not message.get("name") and names.get(message["tool_call_id"]):
                message["name"] = names[message["tool_call_id"]]


def readable_detail(detail: Any) -> str:
    """422 ``detail`` (a list of pydantic-style errors) as one readable line."""
    if not isinstance(detail, list):
        return str(detail)
    parts = []
    for item in detail:
        if not isinstance(item, Mapping):
            parts.append(str(item))
            continue
        where = ".".join(str(p) for p in item.get("loc") or () if p != "body")
        msg = item.get("msg") or item.get("message") or item.get("type") or "invalid"
        parts.append(f"{where}: {msg}" if where else str(msg))
    return "; ".join(parts) or "invalid request"


class Mistral(OpenAIEmbeddings, MistralBatch, OpenAICompatible):
    name = "mistral"
    # /v1/embeddings names its fields output_dimension and output_dtype (codestral-embed:
    # float, int8, uint8, binary, ubinary), and encoding_format float or base64.
    embed_dimensions_field = "output_dimension"
    embed_dtype_field = "output_dtype"
    embed_encodings = ("float", "int8", "uint8", "binary", "ubinary", "base64")
    default_base_url = "https://api.mistral.ai/v1"
    seed_field = "random_seed"
    # Mistral rejects stream_options (422 extra_forbidden) and reports usage regardless.
    include_usage = False
    price_package = __name__

    def body(self, request: Request, ctx: ProviderContext, *, stream: bool) -> dict[str, Any]:
        body = super().body(request, ctx, stream=stream)
        fix_tool_messages(body["messages"])
        if "user" not in request.extra:
            # Not a Mistral field: it would be a 422 extra_forbidden on every request.
            body.pop("user", None)
        return body

    def error_class(self, status: int, code: str | None, message: str,
                    ) -> type[errors.APIError] | None:
        low = message.lower()
        if status == 429 and "capacity" in low:
            return errors.OverloadedError  # "service tier capacity exceeded for this model"
        if code == "invalid_model" or "invalid model" in low:  # a 400, not a 404
            return errors.ModelNotFoundError
        return super().error_class(status, code, message)

    def map_error(self, status: int, headers: Mapping[str, str], raw: Any,
                  ctx: ProviderContext) -> errors.APIError:
        message, code, body = parse_error_body(raw)
        if isinstance(body, dict):
            inner = body.get("message")
            if isinstance(inner, str) and inner.startswith("{"):
                try:  # older servers sent the 422 detail as a JSON string
                    inner = json.loads(inner)
                except ValueError:
                    pass
            if isinstance(inner, dict) and "detail" in inner:
                message = readable_detail(inner["detail"])
            elif isinstance(inner, list):
                message = readable_detail(inner)
            elif isinstance(body.get("detail"), list):
                message = readable_detail(body["detail"])
            if body.get("type") == "invalid_model":
                code = "invalid_model"  # parse_error_body prefers the numeric code
            if body.get("request_id") and "x-request-id" not in headers:
                headers = {**headers, "x-request-id": str(body["request_id"])}
        return api_error(status, headers, message, provider=ctx.name, body=body,
                         cls=self.error_class(status, code, message), code=code,
                         secrets=ctx.secrets())

    def model_info(self, item: dict[str, Any], ctx: ProviderContext) -> ModelInfo:
        info = super().model_info(item, ctx)
        caps = item.get("capabilities")
        if isinstance(caps, dict):
            if "function_calling" in caps:
                info.supports_tools = bool(caps["function_calling"])
            if "vision" in caps:
                info.supports_vision = bool(caps["vision"])
            if "reasoning" in caps:
                info.supports_reasoning = bool(caps["reasoning"])
        if item.get("name") and not info.display_name:
            info.display_name = str(item["name"])
        if item.get("aliases"):
            info.extra["aliases"] = list(item["aliases"])
        if item.get("deprecation"):
            info.extra["deprecation"] = item["deprecation"]
        return info

    def parse_models(self, data: Any) -> list[dict[str, Any]]:
        items = super().parse_models(data)
        # The listing also holds fine-tunes and moderation models; keep the chat-capable
        # ones and the embedding models (served by the embed hook).
        return [i for i in items
                if (i.get("capabilities") or {}).get("completion_chat", True)
                or "embed" in str(i["id"])]


# Conservative: mistral-embed refuses a request over 16,384 tokens in all ("Too many tokens
# in batch"), and an input over 8,192; the batch size itself is not documented.
embed_limits = EmbedLimits(batch=128, max_input_tokens=8192, batch_tokens=16_384)

plugin_api = 1  # the plugbay plugin API this plugin was built for (docs/hooks.md)
plugin = Mistral()
complete, stream, list_models, price, health = plugin.hookimpls()
embed = plugin.embed
batch_submit, batch_poll, batch_results, batch_cancel = plugin.batch_hookimpls()
