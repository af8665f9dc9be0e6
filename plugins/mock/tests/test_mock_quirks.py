"""Every option of the mock, where it can be set, and what it does."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from plugbay_mock.options import CALL_PARAMS, ERROR_KINDS

import plugbay
from plugbay import errors
from plugbay.types import Message

pytestmark = pytest.mark.timeout(20)
TOOLS = [plugbay.Tool(name="get_weather"), plugbay.Tool(name="get_time")]


def client(providers: dict[str, Any] | None = None, **options: Any) -> plugbay.Client:
    tables = providers if providers is not None else {"mock": options}
    return plugbay.Client({"providers": tables, "ledger": {"path": "off"}}, env={})


async def events(c: plugbay.Client, model: str, prompt: Any = "hi",
                 **params: Any) -> list[Any]:
    async with c.astream(model, prompt, **params) as stream:
        return [e async for e in stream]


# ------------------------------------------------------------------ replies


async def test_reply_precedence_instance_model_call() -> None:
    async with client(reply="instance", models={"greeter": {"reply": "model"}}) as c:
        assert (await c.acomplete("mock/chat", "hi")).text == "instance"
        assert (await c.acomplete("mock/greeter", "hi")).text == "model"
        fixed = await c.acomplete("mock/greeter", "hi", mock_response="call")
        assert fixed.text == "call"


async def test_default_reply() -> None:
    async with client() as c:
        assert (await c.acomplete("mock/any", "hi")).text == "This is a mock reply from plugbay."


async def test_echo_repeats_the_last_user_message() -> None:
    convo = [Message.system("Be brief"), Message.user("first"),
             Message.assistant("ok"), Message.user("second one")]
    async with client(reply="instance") as c:
        assert (await c.acomplete("mock/echo", convo)).text == "second one"
        assert (await c.acomplete("mock/echo", convo, mock_response="x")).text == "x"
    async with client(models={"echo": {"reply": "configured"}}) as c:
        assert (await c.acomplete("mock/echo", convo)).text == "configured"


async def test_other_extra_parameters_are_ignored() -> None:
    async with client() as c:
        result = await c.acomplete("mock/echo", "hi", logprobs=True, top_k=3)
    assert result.text == "hi"


async def test_same_call_same_id() -> None:
    async with client() as c:
        a = await c.acomplete("mock/echo", "hi")
        b = await c.acomplete("mock/echo", "hi")
        other = await c.acomplete("mock/echo", "hello")
    assert a.id == b.id != other.id and a.id is not None and a.id.startswith("mock-")


async def test_instance_of_another_name() -> None:
    tables = {"fake-llm": {"plugin": "mock", "reply": "from fake"}}
    async with client(tables) as c:
        result = await c.acomplete("fake-llm/chat", "hi")
        assert c.price("fake-llm/chat") is not None
    assert result.text == "from fake" and result.provider == "fake-llm"


# ------------------------------------------------------------------ latency


async def test_latency_before_the_answer_and_the_error() -> None:
    async with client(latency=0.2) as c:
        started = time.perf_counter()
        await c.acomplete("mock/echo", "hi")
        assert time.perf_counter() - started >= 0.2
        started = time.perf_counter()
        with pytest.raises(errors.OverloadedError):
            await c.acomplete("mock/error-503", "hi")
        assert time.perf_counter() - started >= 0.2
        fast = time.perf_counter()
        await c.acomplete("mock/echo", "hi", mock_latency=0)
        assert time.perf_counter() - fast < 0.15


async def test_latency_past_the_timeout_is_a_timeout() -> None:
    async with client() as c:
        with pytest.raises(errors.TimeoutError):
            await c.acomplete("mock/echo", "hi", mock_latency=5, timeout=0.2)


async def test_chunk_latency_spaces_the_stream() -> None:
    async with client(chunk_latency=0.1) as c:
        arrived = []
        async with c.astream("mock/echo", "one two three") as stream:
            async for event in stream:
                if event.type == "text":
                    arrived.append(time.perf_counter())
    assert len(arrived) == 3
    assert arrived[2] - arrived[0] >= 0.2


# ------------------------------------------------------------------ errors


async def test_error_model_carries_status_and_retry_after() -> None:
    async with client(retry_after=2.5) as c:
        with pytest.raises(errors.RateLimitError) as caught:
            await c.acomplete("mock/error-429", "hi")
    exc = caught.value
    assert (exc.status, exc.retry_after, exc.retryable) == (429, 2.5, True)
    assert exc.code is None  # a bare status; a kind (error-rate-limit) carries a code
    assert "scripted" in str(exc) and "error-429" in str(exc)


@pytest.mark.parametrize(("spec", "cls", "status"), [
    ("quota", errors.QuotaExceededError, 429),
    ("context-length", errors.ContextLengthError, 400),
    ("content_filter", errors.ContentFilterError, 400),
    ("permission", errors.PermissionDeniedError, 403),
    ("invalid", errors.InvalidRequestError, 400),
    ("timeout", errors.TimeoutError, None),
    ("connection", errors.ConnectionError, None),
    (402, errors.QuotaExceededError, 402),
    ("504", errors.TimeoutError, 504),
    (418, errors.InvalidRequestError, 418),
])
async def test_error_kinds_per_call(spec: Any, cls: type[errors.APIError],
                                   status: int | None) -> None:
    async with client() as c:
        with pytest.raises(cls) as caught:
            await c.acomplete("mock/chat", "hi", mock_error=spec, mock_retry_after=1)
    assert caught.value.status == status and caught.value.retry_after == 1
    assert type(caught.value) is cls


async def test_quota_is_not_retryable_unlike_a_rate_limit() -> None:
    async with client() as c:
        with pytest.raises(errors.QuotaExceededError) as caught:
            await c.acomplete("mock/error-quota", "hi")
    assert caught.value.retryable is False and caught.value.code == "insufficient_quota"


async def test_error_in_a_stream_before_any_event() -> None:
    async with client(models={"flaky": {"error": "overloaded"}}) as c:
        with pytest.raises(errors.OverloadedError):
            await events(c, "mock/flaky")
        assert (await c.acomplete("mock/flaky", "hi", mock_error=None)).text


async def test_instance_error_shows_in_health() -> None:
    for spec, status in (("rate_limit", "degraded"), (500, "down")):
        async with client(error=spec) as c:
            [health] = await c.ahealth("mock")
            assert health.status == status and "scripted" in (health.detail or "")
            with pytest.raises(errors.APIError):
                await c.acomplete("mock/chat", "hi")
            fine = await c.acomplete("mock/echo", "up", mock_error=None)  # None unsets
            assert fine.text == "up"


async def test_unknown_error_model_is_model_not_found() -> None:
    async with client() as c:
        with pytest.raises(errors.ModelNotFoundError, match="error-teapot"):
            await c.acomplete("mock/error-teapot", "hi")
        with pytest.raises(errors.ModelNotFoundError, match="400-599"):
            await c.acomplete("mock/error-200", "hi")


# ------------------------------------------------------------------ streams


async def test_stream_one_chunk_per_word_then_usage_then_finish() -> None:
    async with client() as c:
        got = await events(c, "mock/echo", "Hello there,  world ")
    texts = [e.text for e in got if e.type == "text"]
    assert texts == ["Hello", " there,", "  world "]
    assert [e.type for e in got[-2:]] == ["usage", "finish"]
    assert got[-2].usage.output_tokens == 3 and got[-1].reason == "stop"


@pytest.mark.parametrize(("count", "expected"), [
    (1, ["abcdefg"]), (3, ["abc", "de", "fg"]), (50, list("abcdefg")),
])
async def test_chunks_option(count: int, expected: list[str]) -> None:
    async with client(chunks=count) as c:
        got = await events(c, "mock/chat", mock_response="abcdefg")
    assert [e.text for e in got if e.type == "text"] == expected


async def test_cut_after_raises_stream_error_with_the_partial_text() -> None:
    async with client() as c:
        with pytest.raises(errors.StreamError) as caught:
            await events(c, "mock/echo", "one two three four", mock_cut_after=2)
        assert caught.value.partial == "one two" and caught.value.retryable
        with pytest.raises(errors.StreamError) as whole:  # all text, then no terminal event
            await events(c, "mock/echo", "one two", mock_cut_after=9)
        assert whole.value.partial == "one two"
        assert (await c.acomplete("mock/echo", "one two", mock_cut_after=1)).text == "one two"


# ------------------------------------------------------------------ tool calls


async def test_tool_call_needs_tools_and_ends_after_a_result() -> None:
    script = {"name": "get_time", "arguments": {"tz": "UTC"}}
    async with client(tool_call=script) as c:
        plain = await c.acomplete("mock/chat", "hi")
        assert plain.tool_calls == [] and plain.finish_reason == "stop"
        called = await c.acomplete("mock/chat", "time?", tools=TOOLS)
        assert [(t.name, t.args) for t in called.tool_calls] == [("get_time", {"tz": "UTC"})]
        convo = [Message.user("time?"), called.message(),
                 Message.tool(called.tool_calls[0].id, {"time": "12:00"})]
        final = await c.acomplete("mock/chat", convo, tools=TOOLS, mock_response="noon")
        assert final.text == "noon" and final.tool_calls == []


async def test_tool_call_defaults_and_tool_choice() -> None:
    async with client() as c:
        assert (await c.acomplete("mock/chat", "hi", tools=TOOLS)).tool_calls == []
        first = await c.acomplete("mock/chat", "hi", tools=TOOLS, tool_choice="required")
        assert [(t.name, t.arguments) for t in first.tool_calls] == [("get_weather", "{}")]
        forced = await c.acomplete("mock/chat", "hi", tools=TOOLS,
                                   tool_choice=plugbay.ToolChoice(name="get_time"))
        assert forced.tool_calls[0].name == "get_time"
        never = await c.acomplete("mock/chat", "hi", tools=TOOLS, tool_choice="none",
                                  mock_tool_call="get_time")
        assert never.tool_calls == []
        first_named = await c.acomplete("mock/chat", "hi", tools=TOOLS, mock_tool_call={})
        assert first_named.tool_calls[0].name == "get_weather"


async def test_tool_call_arguments_string_is_sent_as_is() -> None:
    async with client() as c:
        got = await c.acomplete("mock/chat", "hi", tools=TOOLS,
                                mock_tool_call={"name": "get_time", "arguments": "{bad json"})
        assert got.tool_calls[0].arguments == "{bad json"
        streamed = await events(c, "mock/chat", tools=TOOLS, mock_tool_call="get_time")
    fragments = [e for e in streamed if e.type == "tool_call"]
    assert fragments[0].name == "get_time" and fragments[0].id == "call_mock_0"
    assert "".join(f.arguments for f in fragments) == "{}"
    assert streamed[-1].reason == "tool_calls"


async def test_tool_call_naming_an_absent_tool_is_refused() -> None:
    async with client(tool_call={"name": "launch"}) as c:
        with pytest.raises(errors.InvalidRequestError, match=r"'launch'.*get_weather, get_time"):
            await c.acomplete("mock/chat", "hi", tools=TOOLS)
        with pytest.raises(errors.InvalidRequestError, match="forces 'get_time'"):
            await c.acomplete("mock/chat", "hi", tools=TOOLS, mock_tool_call="get_weather",
                              tool_choice=plugbay.ToolChoice(name="get_time"))


# ------------------------------------------------------------------ usage and cost


async def test_usage_counts_words() -> None:
    convo = [Message.system("Be brief"), Message.user("What is two plus two?")]
    async with client() as c:
        result = await c.acomplete("mock/chat", convo, mock_response="Four.")
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (2 + 5, 1)


async def test_usage_option_replaces_counts_and_cost_follows_the_table() -> None:
    usage = {"input": 1_000_000, "output": 100_000, "cached": 200_000}
    async with client(usage=usage) as c:
        result = await c.acomplete("mock/chat-large", "hi")
    assert result.usage is not None and result.usage.cached_input_tokens == 200_000
    # 800k fresh * $10 + 200k cached * $5 + 100k out * $30, per million
    assert result.cost is not None and result.cost.total == pytest.approx(8 + 1 + 3)


async def test_max_tokens_cuts_the_answer() -> None:
    async with client() as c:
        cut = await c.acomplete("mock/echo", "one two  three four", max_tokens=2)
        whole = await c.acomplete("mock/echo", "one two", max_tokens=2)
        streamed = await events(c, "mock/echo", "one two  three four", max_tokens=3)
    assert (cut.text, cut.finish_reason) == ("one two", "length")
    assert cut.usage is not None and cut.usage.output_tokens == 2
    assert whole.finish_reason == "stop"
    assert "".join(e.text for e in streamed if e.type == "text") == "one two  three"
    assert streamed[-1].reason == "length"


async def test_configured_prices_for_any_model() -> None:
    prices = {"*": {"input": 3, "output": 4}, "chat": {"input": 7, "output": 8}}
    async with client(prices=prices) as c:
        assert c.price("mock/anything") is not None
        assert c.price("mock/anything").input == 3  # type: ignore[union-attr]
        assert c.price("mock/chat").input == 7  # type: ignore[union-attr]
    async with client() as c:
        assert c.price("mock/anything") is None


# ------------------------------------------------------------------ bad options


@pytest.mark.parametrize(("table", "key", "message"), [
    ({"repyl": "x"}, "providers.mock.repyl", "did you mean 'reply'"),
    ({"latency": "fast"}, "providers.mock.latency", "must be a number"),
    ({"latency": -1}, "providers.mock.latency", "at least 0"),
    ({"chunks": 0}, "providers.mock.chunks", "at least 1"),
    ({"error": 200}, "providers.mock.error", "400-599"),
    ({"error": "teapot"}, "providers.mock.error", "rate_limit"),
    ({"usage": {"inputs": 3}}, "providers.mock.usage", "input, output"),
    ({"tool_call": {"nme": "x"}}, "providers.mock.tool_call", "name ="),
    ({"models": {"m": {"replay": "x"}}}, "providers.mock.models.m.replay", "'reply'"),
])
async def test_bad_config_is_a_config_error_naming_the_key(table: dict[str, Any], key: str,
                                                           message: str) -> None:
    async with client(**table) as c:
        with pytest.raises(errors.ConfigError) as caught:
            await c.acomplete("mock/chat", "hi")
        assert caught.value.key == key and message in str(caught.value)
        [health] = await c.ahealth("mock")
        assert health.status == "down" and key in (health.detail or "")


@pytest.mark.parametrize(("params", "message"), [
    ({"mock_respone": "x"}, "did you mean 'mock_response'"),
    ({"mock_reply": "x"}, "did you mean 'mock_response'"),
    ({"mock_latency": "slow"}, "'mock_latency' must be a number"),
    ({"mock_error": "nope"}, "'mock_error'"),
])
async def test_bad_call_parameter_is_an_invalid_request(params: dict[str, Any],
                                                        message: str) -> None:
    async with client() as c:
        with pytest.raises(errors.InvalidRequestError, match=message):
            await c.acomplete("mock/chat", "hi", **params)


# ------------------------------------------------------------------ the docs

DOCS = [Path(__file__).resolve().parents[1] / "README.md",
        Path(__file__).resolve().parents[3] / "docs" / "providers" / "mock.md"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_docs_list_every_option(doc: Path) -> None:
    if not doc.is_file():
        pytest.skip(f"{doc} is not here (plugin installed alone)")
    rows = set(re.findall(r"^\| `(\w+)` \| `(mock_\w+)` \|", doc.read_text(), re.M))
    assert rows == {(option, param) for param, option in CALL_PARAMS.items()}
    for kind in ERROR_KINDS:
        assert f"`{kind}`" in doc.read_text(), f"{doc.name} does not list error kind {kind}"


def test_docs_test_examples_run() -> None:
    doc = DOCS[1]
    if not doc.is_file():
        pytest.skip(f"{doc} is not here (plugin installed alone)")
    section = doc.read_text().split("## Using it in your tests", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    names: dict[str, Any] = {}
    exec(compile(code.group(1), str(doc), "exec"), names)
    tests = [fn for name, fn in names.items() if name.startswith("test_")]
    assert len(tests) == 2
    with client() as c:
        for test in tests:
            test(c)
