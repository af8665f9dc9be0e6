"""Route config: validation errors name file/key/reason; agents; code-defined routes."""

from __future__ import annotations

import pytest

import plugbay
from plugbay.errors import ConfigError
from plugbay.testing.server import FakeServer

from .conftest import client, config, ok, path

pytestmark = pytest.mark.timeout(20)


def test_route_and_agent_are_called_like_models(srv: FakeServer) -> None:
    srv.add("POST", path("a"), ok("from a"))
    routes = {"smart": {"strategy": "priority", "targets": ["a/m", "b/m"]}}
    with client(srv, routes, agents={"pricing": "smart"}) as c:
        for name in ("smart", "agent:pricing"):
            result = c.complete(name, "hi")
            assert result.text == "from a"
            assert result.provider == "a" and result.model == "m"
            assert result.trace.route == "smart"
            assert result.trace.decision == ["a/m", "b/m"]
            assert result.trace.reason == "priority order"
            assert [a.outcome for a in result.trace.attempts] == ["ok"]


def test_route_in_code(srv: FakeServer) -> None:
    srv.add("POST", path("b"), ok("from b"))
    with plugbay.Client(config(srv), env={}) as c:
        c.router.add_route("coded", strategy="priority", targets=[{"model": "b/m"}])
        c.router.add_agent("bot", "coded")
        assert c.complete("agent:bot", "hi").provider == "b"


@pytest.mark.parametrize(("routes", "agents", "key", "fragment"), [
    ({"r": {"strategy": "nope", "targets": ["a/m"]}}, {}, "routes.r.strategy", "unknown strategy"),
    ({"r": {"targets": []}}, {}, "routes.r.targets", "at least 1"),
    ({"r": {"targets": ["no-slash"]}}, {}, "routes.r.targets[0].model", "provider/model"),
    ({"r": {"targets": ["zz/m"]}}, {}, "routes.r.targets[0]", "unknown provider"),
    ({"r": {"targets": ["a/m"], "deadline": -1}}, {}, "routes.r.deadline", "greater than 0"),
    ({"r": {"targets": [{"model": "a/m", "weight": -2}]}}, {}, "routes.r.targets[0].weight",
     "greater than or equal"),
    ({"r": {"targets": ["a/m"], "weights": {"speed": 1, "style": 2}}}, {}, "routes.r.weights",
     "unknown weight"),
    ({"a/b": {"targets": ["a/m"]}}, {}, "routes.a/b", "route name"),
    ({"r": {"targets": ["a/m"]}}, {"bot": "missing"}, "agents.bot", "unknown route"),
    ({"r": {"targets": ["a/m"]}}, {"bot": 3}, "agents.bot", "must name a route"),
])
def test_bad_config_names_key_and_reason(srv: FakeServer, routes: dict, agents: dict, key: str,
                                         fragment: str) -> None:
    c = plugbay.Client(config(srv, routes=routes, agents=agents), env={})
    with pytest.raises(ConfigError) as info:
        c.router  # noqa: B018 - building the router validates the sections
    assert info.value.key == key
    assert fragment in info.value.reason


def test_unknown_route_key_is_refused_at_load(srv: FakeServer) -> None:
    with pytest.raises(ConfigError) as info:
        plugbay.Client(config(srv, routes={"r": {"targets": ["a/m"], "stratgy": "ab"}}), env={})
    assert info.value.key == "routes.r.stratgy"
    assert "did you mean 'strategy'" in info.value.reason


@pytest.mark.parametrize(("written", "name"), [("round-robin", "round_robin"),
                                               ("least-latency", "least_latency"),
                                               ("least_busy", "least_busy")])
def test_strategy_names_take_dash_or_underscore(srv: FakeServer, written: str,
                                                name: str) -> None:
    srv.add("POST", path("a"), ok("from a"))
    with client(srv, {"r": {"strategy": written, "targets": ["a/m"]}}) as c:
        assert c.router.routes["r"].strategy_name == name
        assert c.complete("r", "hi").trace.reason


def test_unknown_strategy_suggests_the_nearest(srv: FakeServer) -> None:
    c = plugbay.Client(config(srv, routes={"r": {"strategy": "round-robbin",
                                                 "targets": ["a/m"]}}), env={})
    with pytest.raises(ConfigError, match="did you mean 'round_robin'"):
        c.router  # noqa: B018


def test_bad_routing_defaults(srv: FakeServer) -> None:
    c = plugbay.Client(config(srv, routing={"breaker": {"threshold": 0}}), env={})
    with pytest.raises(ConfigError) as info:
        c.router  # noqa: B018
    assert info.value.key == "routing.breaker.threshold"


def test_config_file_error_names_the_file(srv: FakeServer, tmp_path) -> None:
    f = tmp_path / "plugbay.toml"
    f.write_text('[providers.a]\nplugin = "openai"\napi_key = "sk-x"\n'
                 '[routes.smart]\nstrategy = "priority"\ntargets = ["a/m"]\nmax_attempts = 0\n')
    c = plugbay.Client(f, env={})
    with pytest.raises(ConfigError) as info:
        c.complete("smart", "hi")
    assert info.value.file == str(f)
    assert info.value.key == "routes.smart.max_attempts"


def test_unknown_agent_and_plain_model_errors(srv: FakeServer) -> None:
    with client(srv, {"r": {"targets": ["a/m"]}}) as c:
        with pytest.raises(ConfigError, match="no agent 'x'"):
            c.complete("agent:x", "hi")
        with pytest.raises(plugbay.PluginError, match="provider/model"):
            c.complete("not-a-route", "hi")
