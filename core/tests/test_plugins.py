"""Plugin discovery, lazy loading, isolation of broken plugins, selection and tracing."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import pytest

import plugbay
from plugbay import errors
from plugbay.plugins import PluginHost

ECHO_PLUGIN = """
    import asyncio
    from plugbay import hookimpl
    from plugbay.types import Completion, FinishEvent, Health, ModelInfo, TextDelta, Usage

    @hookimpl
    async def complete(request, provider):
        text = request.messages[-1].text()
        return Completion(text=f"echo: {text}", model=request.model, provider=provider.name,
                          usage=Usage(input_tokens=3, output_tokens=2))

    @hookimpl
    async def stream(request, provider):
        for word in ["echo:", " ", request.messages[-1].text()]:
            yield TextDelta(text=word)
        yield FinishEvent(reason="stop")

    @hookimpl
    def list_models(provider):
        return [ModelInfo(id="echo-1", provider=provider.name)]

    @hookimpl
    def price(model, provider):
        return None

    @hookimpl
    async def health(provider):
        return Health(provider=provider.name, status="ok")
"""

HANGING = ECHO_PLUGIN.replace(
    "def list_models(provider):\n        return",
    "async def list_models(provider):\n        await asyncio.sleep(60)\n        return",
).replace("async def health(provider):\n        return",
          "async def health(provider):\n        await asyncio.sleep(60)\n        return")
RAISING = ECHO_PLUGIN.replace(
    "def list_models(provider):\n        return",
    "def list_models(provider):\n        raise RuntimeError('listing exploded')\n        return",
).replace("async def health(provider):\n        return",
          "async def health(provider):\n        raise RuntimeError('probe exploded')\n"
          "        return")


def client_with(eps, **kw):
    env = kw.pop("env", {})
    return plugbay.Client(env=env, host=PluginHost(env=env, entry_points=eps), **kw)


def test_plugin_loads_lazily_on_first_use(make_plugin):
    ep = make_plugin("echo", ECHO_PLUGIN)
    client = client_with([ep])
    assert "pbtest_echo" not in sys.modules
    assert [s.state for s in client.plugins()] == ["available"]
    assert client.complete("echo/any-model", "hi").text == "echo: hi"
    assert "pbtest_echo" in sys.modules
    assert [s.state for s in client.plugins()] == ["loaded"]


def test_broken_import_is_reported_and_skipped(make_plugin):
    good = make_plugin("echo", ECHO_PLUGIN)
    bad = make_plugin("broken", "import no_such_module_anywhere\n")
    client = client_with([bad, good])
    with pytest.raises(errors.PluginError, match="no_such_module_anywhere"):
        client.complete("broken/x", "hi")
    assert client.complete("echo/x", "hi").text == "echo: hi"
    models = client.models()
    assert [m.id for m in models] == ["echo-1"]
    assert "broken" in models.errors
    state = {s.name: (s.state, s.error) for s in client.plugins()}
    assert state["broken"][0] == "broken" and "ModuleNotFoundError" in state["broken"][1]
    assert state["echo"][0] == "loaded"


def test_misspelt_hookimpl_fails_loudly(make_plugin):
    source = ECHO_PLUGIN + (
        "\n    @hookimpl\n    def compelte(request, provider):\n        return None\n")
    client = client_with([make_plugin("typo", source)])
    with pytest.raises(errors.PluginError, match="compelte"):
        client.complete("typo/x", "hi")
    assert {s.name: s.state for s in client.plugins()}["typo"] == "broken"


def test_wrong_hook_arguments_are_rejected(make_plugin):
    source = ECHO_PLUGIN + (
        "\n    @hookimpl\n    def health(provider, surprise):\n        return None\n")
    client = client_with([make_plugin("badargs", source)])
    with pytest.raises(errors.PluginError, match="invalid hooks"):
        client.complete("badargs/x", "hi")


def test_unknown_provider_lists_installed(make_plugin):
    client = client_with([make_plugin("echo", ECHO_PLUGIN)])
    with pytest.raises(errors.UnknownProviderError, match="installed providers: echo"):
        client.complete("nope/x", "hi")


def test_env_selection(make_plugin):
    eps = [make_plugin("echo", ECHO_PLUGIN), make_plugin("other", ECHO_PLUGIN)]
    only = PluginHost(env={"PLUGBAY_PLUGINS": "other"}, entry_points=eps)
    assert only.names() == ["other"]
    skip = PluginHost(env={"PLUGBAY_DISABLE_PLUGINS": "other"}, entry_points=eps)
    assert skip.names() == ["echo"]
    with pytest.raises(errors.UnknownProviderError):
        skip.get("other")
    assert {s.name: s.state for s in skip.statuses()}["other"] == "disabled"


def test_tracing_logs_every_hook_call(make_plugin, caplog):
    ep = make_plugin("echo", ECHO_PLUGIN)
    client = plugbay.Client(env={"PLUGBAY_TRACE": "1"},
                            host=PluginHost(env={"PLUGBAY_TRACE": "1"}, entry_points=[ep]))
    with caplog.at_level(logging.DEBUG, logger="plugbay.hooks"):
        client.complete("echo/m", "hi")
    assert any("echo.complete" in r.getMessage() for r in caplog.records)


def test_in_process_plugin_object():
    class Fixed:
        name = "fixed"

        @plugbay.hookimpl
        def complete(self, request, provider):  # a sync hookimpl works too
            return plugbay.Completion(text="fixed", model=request.model, provider="fixed")

    client = plugbay.Client(env={}, plugins=[Fixed()])
    assert client.complete("fixed/m", "hi").text == "fixed"


def test_dispatch_resolves_once(make_plugin):
    client = client_with([make_plugin("echo", ECHO_PLUGIN)])
    client.complete("echo/a", "hi")
    target = client.targets.resolved["echo"]
    client.complete("echo/b", "hi")
    assert client.targets.resolved["echo"] is target


@pytest.mark.timeout(10)
async def test_fan_out_isolates_raising_and_hanging_plugins(make_plugin):
    eps = [make_plugin("echo", ECHO_PLUGIN), make_plugin("hangs", HANGING),
           make_plugin("raises", RAISING)]
    client = client_with(eps)
    loop = asyncio.get_running_loop()
    started = loop.time()
    models = await client.amodels(timeout=0.5)
    health = await client.ahealth(timeout=0.5)
    assert loop.time() - started < 3
    assert [m.id for m in models] == ["echo-1"]
    assert set(models.errors) == {"hangs", "raises"}
    assert "listing exploded" in models.errors["raises"]
    assert {h.provider: h.status for h in health} == {"echo": "ok", "hangs": "down",
                                                      "raises": "down"}


async def test_async_hookimpls_are_awaited(make_plugin):
    client = client_with([make_plugin("echo", ECHO_PLUGIN)])
    result = await client.acomplete("echo/m", [{"role": "user", "content": "yo"}])
    assert result.text == "echo: yo" and result.provider == "echo"
    async with client.astream("echo/m", "yo") as stream:
        texts = [e.text async for e in stream if e.type == "text"]
    assert "".join(texts) == "echo: yo"
    assert stream.completion is not None and stream.completion.text == "echo: yo"


def test_concurrent_first_loads_register_a_plugin_once() -> None:
    """Threads (each with its own loop, as the sync API and a host app's loops do) that
    first need a plugin at the same moment get one loaded plugin, never 'broken'."""
    import threading

    host = PluginHost(env={})
    if "openai" not in host.names():
        pytest.skip("the reference openai plugin is not installed")
    barrier = threading.Barrier(16)
    got: list[Any] = []

    def load() -> None:
        barrier.wait()
        try:
            got.append(host.get("openai"))
        except Exception as exc:  # what the race used to produce
            got.append(exc)

    threads = [threading.Thread(target=load) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(g is got[0] for g in got), got
    assert {s.name: s.state for s in host.statuses()}["openai"] == "loaded"
