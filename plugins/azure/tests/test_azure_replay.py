"""Replay Azure's own REST spec example (chat_completions.json, 2024-10-21) in place from
../shared/corpus: the request goes to the example's deployment and api-version, and the
example's 200 body comes back as the completion."""

from __future__ import annotations

import json

import pytest

import plugbay
from plugbay.testing.cassettes import corpus_dir
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

CORPUS = corpus_dir()
EXAMPLE = (CORPUS / "azure" / "Azure+azure-rest-api-specs" / "chat_completions.json"
           if CORPUS else None)
pytestmark = [pytest.mark.replay, pytest.mark.timeout(30),
              pytest.mark.skipif(EXAMPLE is None or not EXAMPLE.is_file(),
                                 reason="../shared/corpus/azure is not present")]


def test_spec_example_round_trip():
    assert EXAMPLE is not None
    example = json.loads(EXAMPLE.read_text("utf-8"))
    params, answer = example["parameters"], example["responses"]["200"]["body"]
    deployment = params["deployment-id"]
    with FakeServer() as server:
        route = server.add("POST", f"/openai/deployments/{deployment}/chat/completions",
                           Reply.json(answer))
        config = {"providers": {"azure": {"endpoint": server.url, "api_key": "k" * 32,
                                          "api_version": params["api-version"]}}}
        messages = [plugbay.Message(role=m["role"], content=m["content"])
                    for m in params["body"]["messages"]]
        with plugbay.Client(config, env={}) as client:
            result = client.complete(f"azure/{deployment}", messages)
    sent = route.requests[0]
    assert sent.query["api-version"] == [params["api-version"]]
    assert sent.json()["messages"] == params["body"]["messages"]
    choice = answer["choices"][0]
    assert result.text == choice["message"]["content"]
    assert result.finish_reason == "stop" and result.id == answer["id"]
    assert (result.usage.input_tokens, result.usage.output_tokens) == (
        answer["usage"]["prompt_tokens"], answer["usage"]["completion_tokens"])
