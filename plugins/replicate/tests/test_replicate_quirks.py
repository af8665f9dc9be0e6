"""Replicate-specific behaviour against a real fake server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest

KEY = "r8_testtoken0123456789"
M = "meta/meta-llama-3-70b-instruct"
CREATE = f"/v1/models/{M}/predictions"
PID = "p1"
GET = f"/v1/predictions/{PID}"
CANCEL = f"/v1/predictions/{PID}/cancel"
STREAM = "/v1/streams/s1"


def pred(srv: FakeServer, status: str, output: Any = None, **kw: Any) -> dict[str, Any]:
    base = f"{srv.url}{GET}"
    return {"id": PID, "model": M, "status": status, "output": output, "error": None,
            "urls": {"get": base, "cancel": f"{base}/cancel", "stream": f"{srv.url}{STREAM}"},
            **kw}


def client_for(srv: FakeServer, **options: Any) -> plugbay.Client:
    config = {"providers": {"replicate": {"base_url": f"{srv.url}/v1", "poll_interval": 0.01,
                                          **options}},
              "routing": {"retries": 0}}  # one prediction per call, as scripted
    return plugbay.Client(config, env={"REPLICATE_API_TOKEN": KEY})


@pytest.fixture
async def client(fake_server: FakeServer) -> AsyncIterator[plugbay.Client]:
    async with client_for(fake_server) as c:
        yield c


async def collect(client: plugbay.Client, model: str = M) -> plugbay.Completion:
    async with client.astream(f"replicate/{model}", "hi") as s:
        return await s.get_completion()


# ------------------------------------------------------------------ create and poll


async def test_sync_mode_header_and_token_output(fake_server: FakeServer,
                                                 client: plugbay.Client) -> None:
    fake_server.add("POST", CREATE, Reply.json(pred(
        fake_server, "succeeded", ["\n\n", "Fuzzy", ", gentle", ""],
        metrics={"input_token_count": 9, "output_token_count": 4, "predict_time": 0.3}),
        status=201))
    result = await client.acomplete(f"replicate/{M}", "haiku")
    assert result.text == "\n\nFuzzy, gentle"
    assert result.usage == plugbay.Usage(input_tokens=9, output_tokens=4)
    assert result.extra["metrics"]["predict_time"] == 0.3 and result.id == PID
    assert result.cost is not None  # official model: per-token price
    sent = fake_server.last
    assert sent.headers["prefer"] == "wait=60"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.json() == {"input": {"prompt": "haiku"}}


async def test_wait_and_cancel_after_options(fake_server: FakeServer) -> None:
    fake_server.add("POST", CREATE, Reply.json(pred(fake_server, "succeeded", "x"), status=201))
    async with client_for(fake_server, wait=5, cancel_after="90s") as c:
        await c.acomplete(f"replicate/{M}", "x")
    assert fake_server.last.headers["prefer"] == "wait=5"
    assert fake_server.last.headers["cancel-after"] == "90s"
    async with client_for(fake_server, wait=False) as c:
        await c.acomplete(f"replicate/{M}", "x")
    assert "prefer" not in fake_server.last.headers


async def test_still_processing_after_wait_falls_back_to_polling(
        fake_server: FakeServer, client: plugbay.Client) -> None:
    fake_server.add("POST", CREATE, Reply.json(pred(fake_server, "processing", ["Fu"]),
                                               status=201))
    route = fake_server.add("GET", GET, Reply.json(pred(fake_server, "processing", ["Fu"])),
                            Reply.json(pred(fake_server, "succeeded", ["Fu", "zzy"])))
    result = await client.acomplete(f"replicate/{M}", "x")
    assert result.text == "Fuzzy" and route.hits == 2
    assert result.usage is None  # no metrics, no made-up usage


@pytest.mark.timeout(10)
async def test_polling_is_bounded_and_cancels(fake_server: FakeServer) -> None:
    fake_server.add("POST", CREATE, Reply.json(pred(fake_server, "starting"), status=201))
    fake_server.add("GET", GET, Reply.json(pred(fake_server, "processing")))
    cancel = fake_server.add("POST", CANCEL, Reply.json(pred(fake_server, "canceled")))
    async with client_for(fake_server, timeout=0.3) as c:
        with pytest.raises(errors.TimeoutError, match="canceled"):
            await c.acomplete(f"replicate/{M}", "x", timeout=30)
    assert cancel.hits == 1
    async with client_for(fake_server) as c:  # the call's own deadline cancels too
        with pytest.raises(errors.TimeoutError):
            await c.acomplete(f"replicate/{M}", "x", timeout=0.3)
    assert cancel.hits == 2


@pytest.mark.parametrize(("status", "error", "cls", "retryable"), [
    ("failed", "CUDA out of memory", errors.ProviderError, False),
    ("failed", "prompt is too long for the context window", errors.ContextLengthError, False),
    ("canceled", None, errors.ProviderError, False),
    ("aborted", None, errors.TimeoutError, True),
])
async def test_terminal_failures_are_typed(fake_server: FakeServer, client: plugbay.Client,
                                           status: str, error: str | None,
                                           cls: type[errors.APIError], retryable: bool) -> None:
    fake_server.add("POST", CREATE, Reply.json(pred(fake_server, status) | {"error": error},
                                               status=201))
    with pytest.raises(errors.APIError) as caught:
        await client.acomplete(f"replicate/{M}", "x")
    assert type(caught.value) is cls and caught.value.retryable is retryable
    assert caught.value.request_id == PID and caught.value.code == status


async def test_version_and_deployment_routes(fake_server: FakeServer,
                                             client: plugbay.Client) -> None:
    done = Reply.json(pred(fake_server, "succeeded", ["ok"]), status=201)
    fake_server.add("POST", "/v1/predictions", done)
    fake_server.add("POST", "/v1/deployments/acme/chat/predictions", done)
    version = "02e509c789964a7ea8736978a43525956ef40397be9033abf9fd2badfe68c9e3"
    await client.acomplete(f"replicate/meta/llama-2-70b-chat:{version}", "x", max_tokens=5)
    body = fake_server.last.json()
    assert body["version"] == version
    assert body["input"]["max_new_tokens"] == 5  # Llama 2's field, from the default map
    await client.acomplete(f"replicate/{version}", "x")
    assert fake_server.last.json()["version"] == version
    await client.acomplete("replicate/deployments/acme/chat", "x")
    assert fake_server.last.path == "/v1/deployments/acme/chat/predictions"


# ------------------------------------------------------------------ input mapping


async def test_default_input_map(fake_server: FakeServer, client: plugbay.Client) -> None:
    fake_server.add("POST", CREATE, Reply.json(pred(fake_server, "succeeded", "x"), status=201))
    history = [plugbay.Message.system("Be terse."), plugbay.Message.user("Hi"),
               plugbay.Message.assistant("Hello."), plugbay.Message.user("Bye?")]
    await client.acomplete(f"replicate/{M}", history, max_tokens=20, temperature=0.3,
                           top_p=0.9, stop=["<end>", "<stop>"], seed=1, min_tokens=0)
    sent = fake_server.last.json()["input"]
    assert sent == {"prompt": "User: Hi\n\nAssistant: Hello.\n\nUser: Bye?\n\nAssistant:",
                    "system_prompt": "Be terse.", "max_tokens": 20, "temperature": 0.3,
                    "top_p": 0.9, "seed": 1, "stop_sequences": "<end>,<stop>",
                    "min_tokens": 0}


async def test_user_input_map_merges_over_defaults(fake_server: FakeServer) -> None:
    fake_server.add("POST", "/v1/models/acme/tiny/predictions",
                    Reply.json(pred(fake_server, "succeeded", "x"), status=201))
    fake_server.add("POST", "/v1/models/acme/chat/predictions",
                    Reply.json(pred(fake_server, "succeeded", "x"), status=201))
    input_map = {
        "acme/*": {"max_tokens": "max_length", "system": "", "stop": "stop", "stop_join": "",
                   "template": "<s>[SYS]{system}[/SYS]{history}[INST]{prompt}[/INST]",
                   "defaults": {"repetition_penalty": 1.1}},
        "acme/chat": {"messages": "messages", "system": "system_prompt"},
    }
    async with client_for(fake_server, input_map=input_map) as c:
        await c.acomplete("replicate/acme/tiny", [plugbay.Message.system("S"),
                                                  plugbay.Message.user("Q")],
                          max_tokens=3, stop=["x"])
        assert fake_server.last.json()["input"] == {
            "prompt": "<s>[SYS]S[/SYS][INST]Q[/INST]", "max_length": 3, "stop": ["x"],
            "repetition_penalty": 1.1}
        await c.acomplete("replicate/acme/chat", [plugbay.Message.system("S"),
                                                  plugbay.Message.user("Q")])
        assert fake_server.last.json()["input"] == {
            "messages": [{"role": "user", "content": "Q"}], "system_prompt": "S",
            "repetition_penalty": 1.1}


async def test_unsupported_inputs_are_refused_before_sending(fake_server: FakeServer,
                                                             client: plugbay.Client) -> None:
    with pytest.raises(errors.InvalidRequestError, match="tool"):
        await client.acomplete(f"replicate/{M}", "x", tools=[plugbay.Tool(name="f")])
    with pytest.raises(errors.InvalidRequestError, match="image"):
        await client.acomplete(f"replicate/{M}", [plugbay.Message.user(
            "x", plugbay.ImagePart(url="https://x/y.png"))])
    assert fake_server.requests == []
    fake_server.add("POST", "/v1/models/yorickvp/llava-13b/predictions",
                    Reply.json(pred(fake_server, "succeeded", "a cat"), status=201))
    async with client_for(fake_server, input_map={"yorickvp/llava-*": {"image": "image"}}) as c:
        await c.acomplete("replicate/yorickvp/llava-13b", [plugbay.Message.user(
            "what?", plugbay.ImagePart(url="https://x/y.png"))])
    assert fake_server.last.json()["input"]["image"] == "https://x/y.png"


# ------------------------------------------------------------------ streaming


def stream_setup(srv: FakeServer, events: list[Any], after: dict[str, Any] | None = None,
                 **reply: Any) -> None:
    srv.add("POST", CREATE, Reply.json(pred(srv, "starting"), status=201))
    srv.add("GET", STREAM, Reply.sse(events, **reply))
    srv.add("GET", GET, Reply.json(after or pred(srv, "succeeded", metrics={
        "input_token_count": 3, "output_token_count": 2})))


@pytest.mark.timeout(10)
async def test_stream_text_events_multiline_and_usage(fake_server: FakeServer,
                                                      client: plugbay.Client) -> None:
    stream_setup(fake_server, [": hi\n\n", "event: output\nid: 1\ndata: Hel\n\n",
                               "event: logs\ndata: loading\n\n",
                               "event: output\nid: 2\ndata: lo\ndata: world\n\n",
                               "event: done\ndata: {}\n\n"])
    result = await collect(client)
    assert result.text == "Hello\nworld"
    assert result.usage == plugbay.Usage(input_tokens=3, output_tokens=2)
    create, stream, _ = fake_server.requests
    assert create.json()["stream"] is True and "prefer" not in create.headers
    assert stream.headers["accept"] == "text/event-stream"
    assert stream.headers["cache-control"] == "no-store"


@pytest.mark.timeout(10)
async def test_stream_error_and_canceled_done(fake_server: FakeServer,
                                              client: plugbay.Client) -> None:
    stream_setup(fake_server, ["event: output\ndata: par\n\n",
                               'event: error\ndata: {"detail": "model crashed"}\n\n',
                               'event: done\ndata: {"reason": "error"}\n\n'])
    with pytest.raises(errors.StreamError, match="model crashed") as caught:
        await collect(client)
    assert caught.value.partial == "par" and caught.value.retryable is False
    stream_setup(fake_server, ["event: output\ndata: a\n\n",
                               'event: done\ndata: {"reason": "canceled"}\n\n'])
    with pytest.raises(errors.ProviderError, match="canceled"):
        await collect(client)


@pytest.mark.timeout(10)
async def test_stream_eof_without_done_checks_the_prediction(fake_server: FakeServer,
                                                             client: plugbay.Client) -> None:
    stream_setup(fake_server, ["event: output\ndata: Hel\n\n"],
                 after=pred(fake_server, "succeeded", ["Hel", "lo!"]))
    result = await collect(client)
    assert result.text == "Hello!"  # the missing tail is recovered, not truncated
    cancel = fake_server.add("POST", CANCEL, Reply.json({}))
    stream_setup(fake_server, ["event: output\ndata: Hel\n\n"],
                 after=pred(fake_server, "processing", ["Hel", "lo"]))
    with pytest.raises(errors.StreamError, match="done") as caught:
        await collect(client)
    assert caught.value.partial == "Hel" and cancel.hits == 1


@pytest.mark.timeout(10)
async def test_abandoned_stream_cancels_the_prediction(fake_server: FakeServer,
                                                       client: plugbay.Client) -> None:
    cancel = fake_server.add("POST", CANCEL, Reply.json(pred(fake_server, "canceled")))
    # The server goes quiet after two tokens: only the caller's walking away ends it.
    stream_setup(fake_server, ["event: output\ndata: one\n\n", "event: output\ndata: two\n\n",
                               "event: done\ndata: {}\n\n"], stall_after=2, stall=30)
    async with client.astream(f"replicate/{M}", "hi") as s:
        async for event in s:
            assert event.type == "text"
            break  # the caller walks away before done
    assert cancel.hits == 1
    assert cancel.requests[0].headers["authorization"] == f"Bearer {KEY}"
    # A stream that completed normally is never canceled.
    stream_setup(fake_server, ["event: output\ndata: x\n\n", "event: done\ndata: {}\n\n"])
    await collect(client)
    assert cancel.hits == 1


async def test_model_without_stream_url(fake_server: FakeServer,
                                        client: plugbay.Client) -> None:
    fake_server.add("POST", CREATE, Reply.json(pred(fake_server, "starting") | {
        "urls": {"get": f"{fake_server.url}{GET}",
                 "cancel": f"{fake_server.url}{CANCEL}"}}, status=201))
    cancel = fake_server.add("POST", CANCEL, Reply.json({}))
    with pytest.raises(errors.InvalidRequestError, match="does not stream"):
        await collect(client)
    assert cancel.hits == 1


# ------------------------------------------------------------------ errors, models, health


@pytest.mark.parametrize(("status", "body", "headers", "cls"), [
    (401, {"title": "Unauthenticated", "detail": "You did not pass a valid authentication "
           "token", "status": 401}, {}, errors.AuthenticationError),
    (402, {"title": "Insufficient credit", "detail": "You have insufficient credit",
           "status": 402}, {}, errors.QuotaExceededError),
    (404, {"title": "Not found", "detail": "The requested resource could not be found.",
           "status": 404}, {}, errors.ModelNotFoundError),
    (422, {"title": "Input validation failed", "detail": "- input.max_tokens: Must be >= 1",
           "status": 422, "invalid_fields": [{"type": "greater_than_equal",
                                              "field": "input.max_tokens",
                                              "description": "Must be >= 1"}]},
     {}, errors.InvalidRequestError),
    (429, {"title": "Request was throttled.", "detail": "Request was throttled. Expected "
           "available in 7 seconds.", "status": 429}, {"Retry-After": "7"},
     errors.RateLimitError),
])
async def test_problem_json_errors(fake_server: FakeServer, client: plugbay.Client,
                                   status: int, body: dict[str, Any], headers: dict[str, str],
                                   cls: type[errors.APIError]) -> None:
    fake_server.add("POST", CREATE, Reply.text(json.dumps(body), status=status,
                                               content_type="application/problem+json",
                                               headers=headers))
    with pytest.raises(errors.APIError) as caught:
        await client.acomplete(f"replicate/{M}", "x")
    exc = caught.value
    assert type(exc) is cls and body["detail"] in exc.message
    if status == 422:
        assert "input.max_tokens: Must be >= 1" in exc.message
    if status == 429:
        assert exc.retry_after == 7 and exc.retryable


async def test_models_collection_and_bounded_listing(fake_server: FakeServer) -> None:
    item = {"owner": "meta", "name": "meta-llama-3-8b-instruct", "run_count": 5,
            "latest_version": {"id": "v1"}}
    fake_server.add("GET", "/v1/collections/language-models",
                    Reply.json({"slug": "language-models", "models": [item]}))
    async with client_for(fake_server) as c:
        models = {m.id: m for m in await c.amodels("replicate")}
    assert models["meta/meta-llama-3-8b-instruct"].context_window == 8192  # table fact
    assert models["meta/meta-llama-3-8b-instruct"].extra["latest_version"] == "v1"
    assert "meta/meta-llama-3.1-405b-instruct" in models

    def page(req: RecordedRequest) -> Reply:  # a server whose cursor never ends
        n = int(req.query.get("cursor", ["0"])[0])
        return Reply.json({"results": [{"owner": "u", "name": f"m{n}"}],
                           "next": f"{fake_server.url}/v1/models?cursor={n + 1}"})

    route = fake_server.add("GET", "/v1/models", page)
    async with client_for(fake_server, list_all=True, max_pages=3) as c:
        ids = [m.id for m in await c.amodels("replicate")]
    assert route.hits == 3 and ids[:3] == ["u/m0", "u/m1", "u/m2"]


async def test_health_uses_account(fake_server: FakeServer) -> None:
    fake_server.add("GET", "/v1/account", Reply.json({"type": "user", "username": "me"}))
    async with client_for(fake_server) as c:
        [h] = await c.ahealth("replicate")
    assert h.status == "ok" and fake_server.last.path == "/v1/account"
    async with plugbay.Client({"providers": {"replicate": {"base_url": fake_server.url}}},
                              env={}) as c:
        [h] = await c.ahealth("replicate")
    assert h.status == "down" and "REPLICATE_API_TOKEN" in (h.detail or "")


def test_prices_only_for_per_token_models() -> None:
    with plugbay.Client({}, env={}) as c:
        p = c.price("replicate/meta/meta-llama-3-8b-instruct")
        assert p is not None and p.source == "https://replicate.com/pricing"
        assert c.price("replicate/meta/meta-llama-3-8b-instruct:abc") == p
        assert c.price("replicate/stability-ai/sdxl") is None  # billed per second


async def test_models_without_token_come_from_the_table(fake_server: FakeServer) -> None:
    async with plugbay.Client({"providers": {"replicate": {"base_url": fake_server.url}}},
                              env={}) as c:
        ids = {m.id for m in await c.amodels("replicate")}
    assert "meta/meta-llama-3-8b-instruct" in ids and fake_server.requests == []
