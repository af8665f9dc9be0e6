"""The cache key: calls that may answer differently never share an entry; calls that
differ only in labels (metadata, user) or in the order of a dict's keys always do."""

from __future__ import annotations

import itertools
from typing import Any

from plugbay.cache.key import cache_key
from plugbay.types import Message, Request, ResponseFormat, Tool, ToolChoice

from .harness import Harness

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}}


def key(h: Harness, ns: str = "default", **kw: Any) -> str:
    return cache_key(h.call(**kw), ns)


def chat(system: str | None, user: str = "What is the weather in Paris?") -> list[Message]:
    head = [Message.system(system)] if system is not None else []
    return [*head, Message.user(user)]


def test_generated_variants_never_share_a_key() -> None:
    h = Harness("http://127.0.0.1:9")
    temperatures = [None, 0.0, 0.2, 0.7, 1.0]
    tools: list[list[Tool] | None] = [
        None,
        [Tool(name="weather", parameters=WEATHER)],
        [Tool(name="weather", description="Look up the weather", parameters=WEATHER)],
        [Tool(name="weather", parameters={"type": "object", "properties": {}})],
        [Tool(name="forecast", parameters=WEATHER)],
        [Tool(name="weather", parameters=WEATHER), Tool(name="forecast", parameters=WEATHER)],
    ]
    systems = [None, "Be brief.", "be brief.", "Be brief. ", "Answer in French."]
    places = [("a", None), ("b", None), (None, "smart"), (None, "cheap")]
    keys: dict[str, tuple[Any, ...]] = {}
    for temp, tool, system, (provider, route), stream in itertools.product(
            temperatures, tools, systems, places, (False, True)):
        k = key(h, prompt=chat(system), provider=provider, route=route, stream=stream,
                temperature=temp, tools=tool)
        assert k not in keys, f"{(temp, tool, system, provider, route, stream)} ~ {keys[k]}"
        keys[k] = (temp, tool, system, provider, route, stream)
    assert len(keys) == 5 * 6 * 5 * 4 * 2


# A value for every field of Request, unlike its default: a new field added to Request
# fails this test until it is listed here, as a key input or as a label.
CHANGES: dict[str, Any] = {
    "model": "other-model",
    "messages": [Message.user("What is the weather in Rome?")],
    "temperature": 0.5,
    "max_tokens": 64,
    "top_p": 0.9,
    "stop": ["\n"],
    "seed": 7,
    "tools": [Tool(name="weather", parameters=WEATHER)],
    "tool_choice": "required",
    "response_format": ResponseFormat(type="json_object"),
    "reasoning_effort": "high",
    "extra": {"top_k": 5},
}
LABELS: dict[str, Any] = {"metadata": {"team": "search"}, "user": "user-42"}


def test_every_output_changing_field_is_in_the_key() -> None:
    assert set(CHANGES) | set(LABELS) == set(Request.model_fields)
    h = Harness("http://127.0.0.1:9")
    base = key(h)
    seen = {base}
    for field, value in CHANGES.items():
        if field == "messages":
            k = key(h, prompt=value)
        elif field == "model":
            k = key(h, model=value)
        else:
            k = key(h, **{field: value})
        assert k not in seen, field
        seen.add(k)
    assert key(h, tool_choice=ToolChoice(name="weather")) not in seen
    assert key(h, stop=["\n", "."]) != key(h, stop=[".", "\n"])  # a list keeps its order


def test_labels_and_spelling_do_not_change_the_key() -> None:
    h = Harness("http://127.0.0.1:9")
    base = key(h, temperature=0.2, extra={"top_k": 5, "logit_bias": {"1": 2, "3": 4}},
               tools=[Tool(name="w", parameters={"type": "object", "required": ["a"]})])
    same = [
        key(h, temperature=0.2, extra={"logit_bias": {"3": 4, "1": 2}, "top_k": 5},
            tools=[Tool(name="w", parameters={"required": ["a"], "type": "object"})]),
        key(h, temperature=0.2, extra={"top_k": 5, "logit_bias": {"1": 2, "3": 4}},
            tools=[Tool(name="w", parameters={"type": "object", "required": ["a"]})],
            metadata={"team": "x"}, user="u1", top_p=None, seed=None),
    ]
    assert same == [base, base]
    assert key(h, temperature=1) == key(h, temperature=1.0)
    assert key(h, metadata={"a": "b"}) == key(h, user="someone") == key(h)


def test_namespace_and_kind_keep_entries_apart() -> None:
    h = Harness("http://127.0.0.1:9")
    assert len({key(h), key(h, "other"), key(h, stream=True), key(h, "other", stream=True)}) == 4
    # the parts are length-prefixed: no namespace can run into the provider name
    assert cache_key(h.call(provider=None, route="x"), "a") != \
        cache_key(h.call(provider=None, route="x"), "a|")
