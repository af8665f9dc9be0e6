"""OpenAI-family token counts done locally with tiktoken (``source="local"``).

The rules are the ones OpenAI documents in its cookbook ("How to count tokens with
tiktoken", checked 2026-12-04), applied to the Chat Completions body plugbay would send:

- every message costs 3 tokens plus its role and content (4 and -1 for a name on
  ``gpt-3.5-turbo-0301``), a ``name`` 1 more, and every reply is primed with 3;
- every function tool costs 7 (10 on ``gpt-3.5-turbo``/``gpt-4``) plus
  ``"name:description"``; a tool with properties 3 more, each property 3 plus
  ``"key:type:description"``, an enum -3 plus 3 and the item per value; the tool list
  12 at its end (a trailing "." of a description is left out).

OpenAI verified the message rule exactly against ``usage.prompt_tokens`` for text
messages, so such a request is counted ``exact``. Its tool rule is an approximation
(the recorded traffic in ``../shared/corpus`` misses by 4 to 6 tokens), and tool calls,
tool results, images and response schemas are not documented: those counts are local
but not exact. tiktoken is imported on first use only; it loads its encoding file from
``TIKTOKEN_CACHE_DIR`` (or downloads it once, where the machine can, but never for a
count on the call path: ``plugbay.tokens.ON_CALL_PATH``). When it cannot, the hook
returns ``None`` and the core estimates, flagged not exact (docs/tokens.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plugbay.hookspecs import hookimpl
from plugbay.tokens import ON_CALL_PATH, TokenCount

if TYPE_CHECKING:
    from plugbay.context import ProviderContext
    from plugbay.types import Request

__all__ = ["OpenAITokenCounter", "Rules", "count_wire", "encoding_name", "load_encoding",
           "on_disk", "rules_for", "tiktoken_url"]

Encode = Callable[[str], int]  # text -> its number of tokens


@dataclass(frozen=True)
class Rules:
    """One model family's documented overheads; ``documented`` when the cookbook names
    the family (newer models get the gpt-4o numbers, and their counts are not exact)."""

    per_message: int = 3
    per_name: int = 1
    func_init: int = 7
    documented: bool = True
    reply: int = 3
    prop_init: int = 3
    prop_key: int = 3
    enum_init: int = -3
    enum_item: int = 3
    func_end: int = 12


def rules_for(model: str) -> Rules:
    """The cookbook's numbers for ``model`` (dated ids and Azure's names included)."""
    m = model.lower().rsplit("/", 1)[-1].removeprefix("ft:")
    if m.startswith(("gpt-3.5-turbo-0301", "gpt-35-turbo-0301")):
        return Rules(per_message=4, per_name=-1, func_init=10)
    if m.startswith(("gpt-4o", "chatgpt-4o")):
        return Rules()
    if m.startswith(("gpt-3.5", "gpt-35", "gpt-4")) and not m.startswith(("gpt-4.", "gpt-4o")):
        return Rules(func_init=10)
    return Rules(documented=False)


def _desc(value: Any) -> str:
    text = value if isinstance(value, str) else ""
    return text[:-1] if text.endswith(".") else text


def _tools(tools: Iterable[Mapping[str, Any]], encode: Encode, rules: Rules) -> int:
    """The cookbook's count of a ``tools`` list (a nested schema counts by its top level)."""
    total, any_tool = 0, False
    for tool in tools:
        fn = tool.get("function") or {}
        any_tool = True
        total += rules.func_init + encode(f"{fn.get('name', '')}:{_desc(fn.get('description'))}")
        props = (fn.get("parameters") or {}).get("properties") or {}
        if props:
            total += rules.prop_init
        for key, prop in props.items():
            prop = prop if isinstance(prop, Mapping) else {}
            total += rules.prop_key
            if "enum" in prop:
                total += rules.enum_init
                for item in prop["enum"]:
                    total += rules.enum_item + encode(str(item))
            total += encode(f"{key}:{prop.get('type', '')}:{_desc(prop.get('description'))}")
    return total + (rules.func_end if any_tool else 0)


def count_wire(messages: Iterable[Mapping[str, Any]], tools: Iterable[Mapping[str, Any]] | None,
               encode: Encode, rules: Rules) -> tuple[int, bool]:
    """(tokens, exact) for a Chat Completions ``messages`` and ``tools`` (wire dicts).

    Text parts are counted as their text; an image part adds no documented count, so
    it is estimated at 85 (OpenAI's low-detail tile) and the count is not exact."""
    total, exact = rules.reply, rules.documented
    for message in messages:
        total += rules.per_message + encode(str(message.get("role", "")))
        content = message.get("content")
        if isinstance(content, str):
            total += encode(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and part.get("type") == "text":
                    total += encode(str(part.get("text", "")))
                else:
                    total, exact = total + 85, False
        if isinstance(message.get("name"), str):
            total += rules.per_name + encode(message["name"])
        for call in message.get("tool_calls") or ():
            fn = call.get("function") or {}
            total += encode(str(fn.get("name", ""))) + encode(str(fn.get("arguments", "")))
            exact = False
        if message.get("role") == "tool":
            exact = False
    if tools:
        total, exact = total + _tools(tools, encode, rules), False  # OpenAI: an estimate
    return total, exact


def encoding_name(model: str) -> str | None:
    """tiktoken's encoding for ``model`` (``o200k_base``, ``cl100k_base``...), or None."""
    from tiktoken.model import encoding_name_for_model

    try:
        return encoding_name_for_model(model.rsplit("/", 1)[-1])
    except KeyError:
        return None


def tiktoken_url(name: str) -> str:
    """Where tiktoken fetches encoding ``name`` from; its cache file is this URL's SHA-1."""
    return f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"


def on_disk(name: str) -> bool:
    """Whether tiktoken would find ``name`` in its cache directory (no download)."""
    import hashlib
    import os
    import tempfile

    folder = os.environ.get("TIKTOKEN_CACHE_DIR", os.environ.get(
        "DATA_GYM_CACHE_DIR", os.path.join(tempfile.gettempdir(), "data-gym-cache")))
    key = hashlib.sha1(tiktoken_url(name).encode()).hexdigest()
    return bool(folder) and os.path.isfile(os.path.join(folder, key))


def load_encoding(name: str, state: dict[str, Any]) -> Any:
    """tiktoken's ``Encoding`` through its own loader (cache dir, hash check, download),
    remembered in the provider's ``state``; None, remembered too, when it cannot load."""
    key = f"tiktoken:{name}"
    if key not in state:
        import tiktoken

        try:
            state[key] = tiktoken.get_encoding(name)
        except Exception:  # offline and no cached file, a bad file: estimate from now on
            state[key] = None
    return state[key]


async def count_locally(request: Request, state: dict[str, Any], model: str | None = None,
                        ) -> TokenCount | None:
    """``request`` counted with tiktoken as ``model`` (default ``request.model``) would,
    or None: tiktoken or its encoding file is missing, or the model is not OpenAI's."""
    from plugbay.openai_compat import codec

    model = model or request.model
    known = state.get(f"tiktoken-model:{model}")  # (encoding, rules): once per model
    if known is None:
        try:
            known = state[f"tiktoken-model:{model}"] = (encoding_name(model), rules_for(model))
        except ImportError:  # tiktoken is not installed
            return None
    name, rules = known
    if name is None:
        return None
    key = f"tiktoken:{name}"
    if key in state:
        encoding = state[key]
    elif ON_CALL_PATH.get() and not on_disk(name):
        return None  # a user's call never waits on a download (nor gives up on one)
    else:
        encoding = await asyncio.to_thread(load_encoding, name, state)
    if encoding is None:
        return None
    body = codec.build_body(request, stream=False)

    def encode(text: str) -> int:  # text as text: "<|endoftext|>" typed by a user is no marker
        return len(encoding.encode_ordinary(text))

    def count() -> tuple[int, bool]:
        return count_wire(body["messages"], body.get("tools"), encode, rules)

    size = sum(len(m.text()) for m in request.messages)
    # ~27 MB/s: a prompt over 64 kB would hold the event loop for milliseconds
    tokens, exact = await asyncio.to_thread(count) if size > 65_536 else count()
    if request.response_format is not None:
        exact = False  # a response schema is sent to the model in an undocumented form
    return TokenCount(tokens, exact=exact, source="local")


class OpenAITokenCounter:
    """Mixed into an OpenAI-family plugin class; the plugin exports
    ``count_tokens = plugin.count_tokens`` and ``token_counter = "local"``.
    ``token_model`` names the model whose tokenizer counts (Azure: the base model a
    deployment runs). The provider option ``count_locally = false`` turns it off."""

    def token_model(self, ctx: ProviderContext, model: str) -> str:
        return model

    @hookimpl
    async def count_tokens(self, request: Request, provider: ProviderContext,
                           ) -> TokenCount | None:
        if provider.option("count_locally") is False:
            return None
        return await count_locally(request, provider.state,
                                   self.token_model(provider, request.model))
