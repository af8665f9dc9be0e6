"""The pipeline: composition, order, and host layers in code, in config and from an
installed entry point. Calls go through the real openai plugin to a FakeServer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import plugbay
from plugbay.pipeline import Layer, compose
from plugbay.testing.server import FakeServer, Reply
from plugbay.testing.wire import OpenAIWire

WIRE = OpenAIWire()
PATH = "/{}/v1/chat/completions"


def ok(text: str = "hello") -> Reply:
    return Reply.json(WIRE.completion("m", {"role": "assistant", "content": text}, "stop",
                                      {"input": 3, "output": 2}))


def fail(status: int) -> Reply:
    return Reply.json({"error": {"message": "fault", "type": "server_error"}}, status=status)


def config(srv: FakeServer, **sections: Any) -> dict[str, Any]:
    table = {n: {"plugin": "openai", "api_key": f"sk-test-{n}-0123456789abcdef",
                 "base_url": f"{srv.url}/{n}/v1"} for n in ("a", "b")}
    return {"providers": table, "ledger": {"path": "off"},
            "routing": {"backoff_base": 0.01, "backoff_max": 0.02}, **sections}


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


class Recorder(Layer):
    """Records what it saw on the way down and on the way back up."""

    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None, str | None]] = []

    async def complete(self, call: Any, next: Any) -> Any:
        before = call.target.name if call.target is not None else None
        result = await next(call)
        self.seen.append((call.model, before, call.outcome.provider))
        return result

    async def stream(self, call: Any, next: Any) -> AsyncIterator[Any]:
        async for event in next(call):
            self.seen.append(("event", event.type, None))
            yield event


def test_default_stack_retries_meters_and_dispatches(srv: FakeServer) -> None:
    assert plugbay.Client(config(srv), env={}).pipeline.names() == ["routing", "metering",
                                                                    "dispatch"]
    no_retries = config(srv, routing={"retries": 0})
    assert plugbay.Client(no_retries, env={}).pipeline.names() == ["metering", "dispatch"]


def test_stack_order_with_every_layer(srv: FakeServer) -> None:
    cfg = config(srv, routes={"r": {"targets": ["a/m", "b/m"]}},
                 budgets={"day": {"scope": "global", "period": "daily", "limit": 5.0}})
    client = plugbay.Client(cfg, env={}, layers=[Recorder()])
    assert client.pipeline.names() == ["recorder", "routing", "admission", "metering",
                                       "dispatch"]


def test_a_host_layer_sees_one_logical_call_over_retries(srv: FakeServer) -> None:
    srv.add("POST", PATH.format("a"), fail(500))
    srv.add("POST", PATH.format("b"), ok("from b"))
    rec = Recorder()
    cfg = config(srv, routes={"r": {"strategy": "priority", "targets": ["a/m", "b/m"]}})
    with plugbay.Client(cfg, env={}, layers=[rec]) as client:
        answer = client.complete("r", "hi")
    assert answer.text == "from b" and len(srv.requests) == 2
    # one call seen, before routing chose a target; the outcome names who answered
    assert rec.seen == [("r", None, "b")]


def test_a_host_layer_sees_every_stream_event(srv: FakeServer) -> None:
    events = WIRE.stream_events("m", [{"content": "he"}, {"content": "llo"}], "stop",
                                {"input": 3, "output": 2})
    srv.add("POST", PATH.format("a"), Reply.sse(events))
    rec = Recorder()
    with plugbay.Client(config(srv), env={}, layers=[rec]) as client, \
            client.stream("a/m", "hi") as stream:
        text = "".join(e.text for e in stream if e.type == "text")
    assert text == "hello"
    assert [kind for _, kind, _ in rec.seen].count("text") == 2
    assert ("event", "finish", None) in rec.seen


def test_a_layer_may_answer_without_calling_next(srv: FakeServer) -> None:
    class Refuse(Layer):
        async def complete(self, call: Any, next: Any) -> Any:
            raise plugbay.InvalidRequestError("refused by policy")

    with plugbay.Client(config(srv), env={}, layers=[Refuse()]) as client, \
            pytest.raises(plugbay.InvalidRequestError, match="refused by policy"):
        client.complete("a/m", "hi")
    assert srv.requests == []


def test_compose_leaves_out_what_a_layer_does_not_override() -> None:
    class Bottom:
        async def complete(self, call: Any) -> Any:
            return "bottom"

        def stream(self, call: Any) -> Any:
            return "bottom-stream"

    bottom = Bottom()
    pipe = compose([Layer(), Layer()], bottom)
    assert pipe.complete == bottom.complete and pipe.stream == bottom.stream
    with pytest.raises(TypeError, match="is not a layer"):
        compose([object()], bottom)


# ---------------------------------------------------------------- layers from config

LAYER_MODULE = '''
from plugbay.pipeline import Layer


class Tag(Layer):
    name = "tag"

    def __init__(self, word="tagged"):
        self.word = word

    async def complete(self, call, next):
        call.request = call.request.model_copy(update={"user": self.word})
        return await next(call)
'''


@pytest.fixture
def layer_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "acme_layers.py").write_text(LAYER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_config_names_a_layer_by_module_with_options(srv: FakeServer, layer_module: Path,
                                                     ) -> None:
    srv.add("POST", PATH.format("a"), ok())
    cfg = config(srv, pipeline={"layers": [
        {"use": "acme_layers:Tag", "options": {"word": "from-config"}}]})
    with plugbay.Client(cfg, env={}) as client:
        client.complete("a/m", "hi")
        assert client.pipeline.names()[0] == "tag"
    assert srv.last.json()["user"] == "from-config"


@pytest.mark.parametrize(("entry", "says"), [
    ("acme_layers:Nope", "cannot load layer 'acme_layers:Nope'"),
    ("no-such-layer", "no layer 'no-such-layer' is installed"),
    ("builtins:object", "is not a layer"),
    ({"use": "acme_layers:Tag", "options": {"colour": 1}}, "could not be made"),
])
def test_a_bad_layer_in_config_is_a_config_error(srv: FakeServer, layer_module: Path,
                                                 entry: Any, says: str) -> None:
    client = plugbay.Client(config(srv, pipeline={"layers": [entry]}), env={})
    with pytest.raises(plugbay.ConfigError, match=r"pipeline\.layers\[0\]") as caught:
        client.complete("a/m", "hi")
    assert says in str(caught.value)
    assert srv.requests == []


def test_an_installed_entry_point_layer_is_found_by_name(srv: FakeServer, tmp_path: Path,
                                                         ) -> None:
    """A real distribution on sys.path declaring the plugbay.layers group."""
    srv.add("POST", PATH.format("a"), ok())
    (tmp_path / "acme_layers.py").write_text(LAYER_MODULE)
    dist = tmp_path / "acme_layers-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-layers\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[plugbay.layers]\nacme-tag = acme_layers:Tag\n")
    script = textwrap.dedent(f"""
        import plugbay
        cfg = {config(srv, pipeline={"layers": ["acme-tag"]})!r}
        with plugbay.Client(cfg, env={{}}) as client:
            client.complete("a/m", "hi")
            print(client.pipeline.names())
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env={"PYTHONPATH": str(tmp_path), "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['tag', 'routing', 'metering', 'dispatch']"
    assert srv.last.json()["user"] == "tagged"


@pytest.mark.parametrize(("params", "says"), [
    ({"max_tokens": 0}, "max_tokens: Input should be greater than or equal to 1 (got 0)"),
    ({"temperature": -0.5}, "temperature: Input should be greater than or equal to 0"),
])
def test_bad_parameters_are_a_typed_error_before_any_call(srv: FakeServer, params: Any,
                                                         says: str) -> None:
    with plugbay.Client(config(srv), env={}) as client:
        with pytest.raises(plugbay.InvalidRequestError) as caught:
            client.complete("a/m", "hi", **params)
        assert says in str(caught.value)
    assert srv.requests == []
