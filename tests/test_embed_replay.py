"""Replay every recorded embedding exchange in ../shared/corpus through ``client.embed``:
the recorded answer is served byte for byte, the inputs are the recorded request's, and
the vectors must come back one per input, in order, equal to the recorded ones. Skips
cleanly when the corpus is absent or holds no embedding recording (as it does today:
only specs and docs mention embeddings there)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import plugbay
from plugbay.testing.cassettes import Interaction, corpus_dir, load_cassette, reply_for
from plugbay.testing.server import FakeServer

pytestmark = pytest.mark.timeout(60)
# recorded path -> (provider, how the request names its inputs, where the answer's vectors are)
EMBED_PATHS = [
    (re.compile(r".*/embeddings$"), "openai"),
    (re.compile(r".*/v2/embed$"), "cohere"),
    (re.compile(r".*/api/embed$"), "ollama"),
    (re.compile(r".*:(embedContent|batchEmbedContents)$"), "gemini"),
]


def recordings() -> list[tuple[Path, Interaction, str]]:
    root = corpus_dir()
    if root is None:
        return []
    found = []
    for path in sorted(root.rglob("*.yaml")):
        if path.stat().st_size > 1_000_000:  # an OpenAPI spec, not a recording
            continue
        try:
            items = load_cassette(path)
        except Exception:  # a spec or a doc, not a cassette
            continue
        for item in items:
            for pattern, provider in EMBED_PATHS:
                if item.method == "POST" and item.status == 200 and pattern.fullmatch(item.path):
                    found.append((path, item, provider))
    return found


def inputs_of(body: dict[str, Any], provider: str) -> list[str]:
    if provider == "cohere":
        return list(body["texts"])
    if provider == "gemini":
        reqs = body.get("requests", [body])
        return [r["content"]["parts"][0]["text"] for r in reqs]
    sent = body["input"]
    return [sent] if isinstance(sent, str) else list(sent)


def vectors_of(answer: dict[str, Any], provider: str) -> list[Any]:
    if provider == "openai":
        return [d["embedding"] for d in sorted(answer["data"], key=lambda d: d["index"])]
    if provider == "cohere":
        return next(iter(answer["embeddings"].values()))
    if provider == "gemini":
        return [e["values"] for e in answer.get("embeddings", [answer.get("embedding")])]
    return list(answer["embeddings"])


RECORDED = recordings()


@pytest.mark.skipif(not RECORDED, reason="no embedding recordings in ../shared/corpus")
@pytest.mark.parametrize("path,item,provider", RECORDED,
                         ids=[f"{p.name}:{i.path}" for p, i, _ in RECORDED] or None)
def test_recorded_embeddings_replay(path: Path, item: Interaction, provider: str) -> None:
    pytest.importorskip(f"plugbay_{provider}")
    body = item.request_json()
    inputs = inputs_of(body, provider)
    answer = json.loads(item.decoded_body())
    with FakeServer() as srv:
        srv.add("POST", re.compile(r".*"), reply_for(item))
        base = srv.url + ("/v1" if provider == "openai" else "/v1beta" if provider == "gemini"
                          else "")
        cfg = {"providers": {provider: {"api_key": "k", "base_url": base,
                                        "embed_batch": len(inputs)}},
               "routing": {"retries": 0}, "ledger": {"path": "off"}}
        with plugbay.Client(cfg, env={}) as client:
            model = body.get("model") or item.path.rsplit("/", 1)[-1].split(":")[0]
            got = client.embed(f"{provider}/{model}", inputs)
    expected = vectors_of(answer, provider)
    if provider == "openai" and expected and isinstance(expected[0], str):
        pytest.skip("a base64 recording: compared by count only")
    assert len(got.vectors) == len(inputs)
    assert got.vectors == expected
