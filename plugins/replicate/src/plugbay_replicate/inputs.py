"""How a chat ``Request`` becomes a Replicate model's ``input`` object.

Replicate has no chat standard: every model declares its own inputs. This module keeps
that knowledge as *data*: ``DEFAULT_INPUT_MAP`` maps model-id patterns (``fnmatch``
globs over ``owner/name``) to a spec, and a provider's ``input_map`` option is merged
over it, pattern by pattern. For one model every matching pattern applies, the least
specific first, so ``"*"`` gives the defaults and ``"meta/llama-2-*"`` refines them.

Spec keys (a falsy value, e.g. ``""`` or ``false``, means "do not send"):

``prompt``       input field for the rendered conversation (default ``prompt``)
``messages``     input field for an OpenAI-style ``[{role, content}]`` list instead of a
                 rendered prompt (default off)
``system``       input field for the system text; off folds it into the prompt
``max_tokens``   input field for ``max_tokens`` (``max_tokens`` / ``max_new_tokens`` ...)
``temperature``, ``top_p``, ``seed``, ``reasoning_effort``   input field names
``stop``         input field for stop sequences; ``stop_join`` joins them into one string
                 (Replicate's Llama models take ``"<a>,<b>"``); off sends a list
``template``     a ``str.format`` template for the prompt with ``{system}``, ``{prompt}``
                 (the last user turn) and ``{history}`` (the turns before it)
``image``        input field for the first image (URL or data URL); off refuses images
``defaults``     fixed inputs always sent (the request's own values win)
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Mapping
from typing import Any

from plugbay import errors
from plugbay.types import ImagePart, Message, Request

__all__ = ["DEFAULT_INPUT_MAP", "build_input", "resolve"]

DEFAULT_INPUT_MAP: dict[str, dict[str, Any]] = {
    # Replicate's official Llama 3 / 3.1 models (schema on their model pages).
    "*": {"prompt": "prompt", "messages": "", "system": "system_prompt",
          "max_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p",
          "seed": "seed", "stop": "stop_sequences", "stop_join": ",", "template": "",
          "image": "", "reasoning_effort": "", "defaults": {}},
    # Llama 2 chat models (corpus: predictions-stream.yaml default_example inputs).
    "meta/llama-2-*": {"max_tokens": "max_new_tokens"},
    # Mistral's community-era models take max_new_tokens and no system_prompt field.
    "mistralai/mistral-7b-*": {"max_tokens": "max_new_tokens", "system": ""},
    "mistralai/mixtral-8x7b-*": {"max_tokens": "max_new_tokens", "system": ""},
}


def merged_map(user: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The default table with the user's ``input_map`` merged over it, pattern by pattern."""
    table = copy.deepcopy(DEFAULT_INPUT_MAP)
    for pattern, spec in (user or {}).items():
        if not isinstance(spec, Mapping):
            raise errors.ConfigError(f"input_map[{pattern!r}] must be a table of fields",
                                     key="input_map")
        table.setdefault(str(pattern), {}).update(spec)
    return table


def _specificity(pattern: str) -> tuple[int, int]:
    literal = sum(1 for ch in pattern if ch not in "*?[]")
    return (0 if any(ch in pattern for ch in "*?[") else 1, literal)


def resolve(model: str, user: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The spec for ``model`` (``owner/name``, ``owner/name:version`` or a deployment)."""
    name = model.split(":", 1)[0].removeprefix("deployments/")
    table = merged_map(user)
    spec: dict[str, Any] = {}
    for pattern in sorted((p for p in table if fnmatch.fnmatchcase(name, p)), key=_specificity):
        spec.update(table[pattern])
    return spec


def _turn(m: Message) -> str:
    if m.role == "assistant" and m.tool_calls and not m.content:
        calls = ", ".join(f"{c.name}({c.arguments})" for c in m.tool_calls)
        return f"Assistant: [called {calls}]"
    label = {"user": "User", "assistant": "Assistant", "tool": "Tool result"}[m.role]
    return f"{label}: {m.text()}"


def render_prompt(request: Request, spec: Mapping[str, Any]) -> str:
    system = request.system_text() or ""
    turns = [m for m in request.messages if m.role != "system"]
    last_user = max((i for i, m in enumerate(turns) if m.role == "user"), default=None)
    template = spec.get("template")
    if template:
        prompt = turns[last_user].text() if last_user is not None else ""
        before = turns[:last_user] if last_user is not None else turns
        try:
            return str(template).format(system=system, prompt=prompt,
                                        history="\n\n".join(_turn(m) for m in before))
        except (KeyError, IndexError, ValueError) as exc:
            raise errors.ConfigError(f"bad prompt template: {exc}",
                                     key="input_map.template") from None
    keep_system = bool(system) and not spec.get("system")
    if len(turns) == 1 and turns[0].role == "user" and not keep_system:
        return turns[0].text()
    lines = [f"System: {system}"] if keep_system else []
    lines += [_turn(m) for m in turns]
    lines.append("Assistant:")
    return "\n\n".join(lines)


def build_input(request: Request, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The ``input`` object for ``request`` under ``spec`` (``request.extra`` merged last)."""
    if request.tools:
        raise errors.InvalidRequestError(
            "Replicate predictions have no tool calling; send the request without tools",
            provider="replicate")
    fmt = request.response_format
    if fmt is not None and fmt.type != "text":
        raise errors.InvalidRequestError(
            "Replicate predictions have no response_format; pass the model's own input "
            "(e.g. a JSON schema field) as an extra parameter instead", provider="replicate")
    out: dict[str, Any] = dict(spec.get("defaults") or {})
    images = [p for m in request.messages if isinstance(m.content, list)
              for p in m.content if isinstance(p, ImagePart)]
    if images:
        if not spec.get("image"):
            raise errors.InvalidRequestError(
                f"no image input is mapped for {request.model!r}: set input_map "
                f"{{\"{request.model}\" = {{ image = \"<field>\" }}}}", provider="replicate")
        out[spec["image"]] = images[0].data_url()
    system = request.system_text()
    if spec.get("messages"):
        out[spec["messages"]] = [
            {"role": m.role, "content": m.text()} for m in request.messages
            if not (m.role == "system" and spec.get("system"))]
    else:
        out[spec.get("prompt") or "prompt"] = render_prompt(request, spec)
    if system and spec.get("system"):
        out[spec["system"]] = system
    for field in ("max_tokens", "temperature", "top_p", "seed", "reasoning_effort"):
        value = getattr(request, field)
        if value is not None and spec.get(field):
            out[spec[field]] = value
    if request.stop and spec.get("stop"):
        joiner = spec.get("stop_join")
        out[spec["stop"]] = str(joiner).join(request.stop) if joiner else list(request.stop)
    out.update(request.extra)
    return out
