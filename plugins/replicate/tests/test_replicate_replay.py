"""Replay recorded Replicate traffic (../shared/corpus/replicate) through the plugin.

The cassettes (replicate-python, vcrpy-httpx legacy format: ``response.content`` and
``status_code``; one in the vcrpy default format) are read in place. Hosts in recorded
``urls`` are pointed at the fake server. Where a recording stops short (the blocking
create ends ``processing``; the stream body itself was never recorded) the missing
step is synthesised from the recorded prediction and the test says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import plugbay
from plugbay import errors
from plugbay.testing.cassettes import corpus_dir
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

pytestmark = pytest.mark.replay

_CORPUS = corpus_dir(Path(__file__).parent)
CASSETTES = _CORPUS / "replicate" / "replicate+replicate-python" if _CORPUS else None
_HOSTS = re.compile(r"https://[a-z0-9.\-]*replicate\.(?:com|net)")
KEY = "r8_replaytoken0123456789"


def interactions(name: str) -> list[dict[str, Any]]:
    """(method, path, request body, status, response JSON) of each recorded interaction.

    Read with PyYAML here because the legacy layout keeps the status in ``status_code``
    and stores bodies already decoded (while keeping ``Content-Encoding: gzip``)."""
    yaml = pytest.importorskip("yaml")
    path = CASSETTES / name if CASSETTES else None
    if path is None or not path.is_file():
        pytest.skip(f"../shared/corpus/replicate/replicate+replicate-python/{name} is absent")
    out = []
    for item in yaml.safe_load(path.read_text("utf-8"))["interactions"]:
        req, resp = item["request"], item["response"]
        body = resp.get("body")
        raw = body.get("string") if isinstance(body, dict) else resp.get("content")
        status = resp["status"]["code"] if isinstance(resp.get("status"), dict) \
            else resp.get("status_code")
        req_body = req.get("body")
        req_body = req_body.get("string") if isinstance(req_body, dict) else req_body
        out.append({"method": req["method"], "path": urlsplit(req["uri"]).path,
                    "request": json.loads(req_body) if req_body else None,
                    "headers": req.get("headers") or {}, "status": int(status),
                    "body": json.loads(raw)})
    return out


def localise(obj: Any, server: FakeServer) -> Any:
    """The recorded object with Replicate's hosts replaced by the fake server's."""
    return json.loads(_HOSTS.sub(server.url, json.dumps(obj)))


@pytest.fixture
async def client(fake_server: FakeServer) -> AsyncIterator[plugbay.Client]:
    config = {"providers": {"replicate": {"base_url": f"{fake_server.url}/v1", "api_key": KEY,
                                          "poll_interval": 0.01}}}
    async with plugbay.Client(config, env={}) as c:
        yield c


@pytest.mark.timeout(20)
async def test_blocking_create_still_processing_is_polled(fake_server: FakeServer,
                                                         client: plugbay.Client) -> None:
    [create] = interactions("test_models_predictions_create_blocking[True-True].yaml")
    recorded = localise(create["body"], fake_server)
    assert recorded["status"] == "processing"  # Prefer: wait came back unfinished
    fake_server.add("POST", create["path"], Reply.json(recorded, status=create["status"],
                                                       headers={"Preference-Applied": "wait"}))
    # Synthesised: the recording ends here; the poll answers with the same tokens, done.
    get = urlsplit(recorded["urls"]["get"]).path
    route = fake_server.add("GET", get, Reply.json({**recorded, "status": "succeeded"}))
    model = create["path"].removeprefix("/v1/models/").removesuffix("/predictions")
    result = await client.acomplete(f"replicate/{model}", create["request"]["input"]["prompt"])
    sent = fake_server.requests[0]
    assert sent.json() == create["request"]
    assert sent.headers["prefer"].startswith(create["headers"]["prefer"][0])
    assert route.hits == 1
    assert result.text == "".join(recorded["output"]) and result.id == recorded["id"]


async def test_invalid_token_problem_json(fake_server: FakeServer,
                                          client: plugbay.Client) -> None:
    [call] = interactions("run__invalid-token.yaml")
    assert call["status"] == 401
    fake_server.add("POST", call["path"], Reply.text(json.dumps(call["body"]),
                                                     content_type="application/problem+json",
                                                     status=call["status"]))
    version = call["request"]["version"]
    with pytest.raises(errors.AuthenticationError) as caught:
        await client.acomplete(f"replicate/{version}", "x")
    assert call["body"]["detail"] in str(caught.value)
    assert caught.value.status == 401 and caught.value.body["title"] == call["body"]["title"]
    assert fake_server.last.json()["version"] == version
    assert KEY not in repr(caught.value.body)


@pytest.mark.timeout(20)
async def test_canceled_prediction_is_a_typed_error(fake_server: FakeServer,
                                                    client: plugbay.Client) -> None:
    recorded = interactions("predictions-cancel.yaml")
    create = next(i for i in recorded if i["path"] == "/v1/predictions")
    canceled = next(i for i in recorded if i["path"].endswith("/cancel"))
    assert canceled["body"]["status"] == "canceled"
    body = localise(create["body"], fake_server)
    fake_server.add("POST", create["path"], Reply.json(body, status=create["status"]))
    fake_server.add("GET", urlsplit(body["urls"]["get"]).path,
                    Reply.json(localise(canceled["body"], fake_server)))
    inp = create["request"]["input"]
    with pytest.raises(errors.ProviderError, match="canceled") as caught:
        await client.acomplete(f"replicate/stability-ai/sdxl:{create['request']['version']}",
                               inp["prompt"], seed=inp["seed"], width=inp["width"],
                               height=inp["height"])
    assert caught.value.retryable is False and caught.value.request_id == body["id"]
    assert fake_server.requests[0].json() == create["request"]  # the same create, byte-equal


@pytest.mark.timeout(20)
async def test_create_then_recorded_polls(fake_server: FakeServer,
                                          client: plugbay.Client) -> None:
    create = next(i for i in interactions("predictions-create.yaml")
                  if i["method"] == "POST")
    polls = interactions("predictions-get.yaml")
    body = localise(create["body"], fake_server)
    fake_server.add("POST", create["path"], Reply.json(body, status=create["status"]))
    path = urlsplit(body["urls"]["get"]).path
    assert all(p["path"] == path for p in polls)
    fake_server.add("GET", path, *[Reply.json(localise(p["body"], fake_server)) for p in polls])
    result = await client.acomplete(
        f"replicate/stability-ai/sdxl:{create['request']['version']}", "a corgi")
    final = polls[-1]["body"]
    assert result.text == "".join(final["output"])  # an image model: its output URLs
    assert result.usage is None  # per-second billing: no token counts
    assert result.extra["metrics"] == final["metrics"]
    assert result.price is None


@pytest.mark.timeout(20)
async def test_stream_create_follows_recorded_stream_url(fake_server: FakeServer,
                                                         client: plugbay.Client) -> None:
    create = next(i for i in interactions("predictions-stream.yaml") if i["method"] == "POST")
    assert create["request"]["stream"] is True
    body = localise(create["body"], fake_server)
    fake_server.add("POST", create["path"], Reply.json(body, status=create["status"]))
    # Synthesised: the SSE body on urls.stream was not recorded (see SOURCES.md).
    stream_path = urlsplit(body["urls"]["stream"]).path
    fake_server.add("GET", stream_path, Reply.sse([
        ": hi\n\n", "event: output\nid: 1\ndata: Camelids\n\n",
        "event: output\nid: 2\ndata:  roam\n\n", "event: done\nid: 3\ndata: {}\n\n"]))
    fake_server.add("GET", urlsplit(body["urls"]["get"]).path, Reply.json(
        {**body, "status": "succeeded", "output": ["Camelids", " roam"]}))
    model = f"replicate/meta/llama-2-70b-chat:{create['request']['version']}"
    async with client.astream(model, create["request"]["input"]["prompt"]) as s:
        result = await s.get_completion()
    assert result.text == "Camelids roam"
    assert fake_server.requests[0].json() == create["request"]
    assert fake_server.requests[1].path == stream_path
