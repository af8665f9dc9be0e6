"""plugbay.toml: unknown sections and keys are refused with the nearest name; base URLs
are checked when the file loads; the registry matches what each section's owner reads."""

import re
from pathlib import Path

import pytest

from plugbay.config import load_config
from plugbay.config_keys import SECTIONS, Section, check_base_url
from plugbay.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def load(tmp_path, text):
    path = tmp_path / "plugbay.toml"
    path.write_text(text)
    return load_config(path, {}), str(path)


def refused(tmp_path, text) -> str:
    path = tmp_path / "plugbay.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert str(path) in str(caught.value)
    return str(caught.value)


@pytest.mark.parametrize(("text", "key", "near"), [
    ("[cahce]\nttl = 5\n", "cahce", "cache"),
    ("timout = 5\n", "timout", "timeout"),
    ("[ledger]\npth = 'x.db'\n", "ledger.pth", "path"),
    ("[routing.breaker]\nthreshhold = 3\n", "routing.breaker.threshhold", "threshold"),
    ("[routes.smart]\nstratgy = 'priority'\ntargets = ['a/b']\n", "routes.smart.stratgy",
     "strategy"),
    ("[providers.openai]\nbase_ulr = 'https://x/v1'\n", "providers.openai.base_ulr",
     "base_url"),
    ("[providers.openai]\napikey = 'k'\n", "providers.openai.apikey", "api_key"),
    ("[prices.\"a/b\"]\ninput = 1\noutput = 2\ncached_inptu = 0.1\n",
     "prices.a/b.cached_inptu", "cached_input"),
    ("[budgets]\nestimate_output_token = 9\n", "budgets.estimate_output_token",
     "estimate_output_tokens"),
    ("[budgets.day]\nlimit = 5\nperoid = 'daily'\n", "budgets.day.peroid", "period"),
    ("[rate_limits.openai]\nrmp = 5\n", "rate_limits.openai.rmp", "rpm"),
    ("[plugins]\nenabel = ['openai']\n", "plugins.enabel", "enable"),
    ("[pipeline]\nlayer = []\n", "pipeline.layer", "layers"),
])
def test_unknown_key_names_file_key_and_nearest(tmp_path, text, key, near):
    message = refused(tmp_path, text)
    assert f": {key}: " in message
    assert f"did you mean {near!r}" in message


def test_unknown_section_without_a_near_name_lists_the_known(tmp_path):
    message = refused(tmp_path, "[zzz]\na = 1\n")
    assert "unknown section" in message and "providers" in message and "cache" in message


def test_known_sections_load(tmp_path):
    config, _ = load(tmp_path, """
timeout = 30
[plugins]
enable = ["openai"]
[providers.openai-eu]
plugin = "openai"
organization = "org-1"          # a plugin option: kept
base_url = "https://eu.example:8443/v1"
[cache]
backend = "memory"
ttl = 60
namespace = "x"
max_bytes = 1000
path = "c.db"
url = "redis://127.0.0.1"
[pipeline]
layers = ["cache"]
[agents]
pricing = "smart"
[routes.smart]
strategy = "round-robin"
targets = ["openai/gpt-4o"]
[otel]
enabled = false
""")
    assert config.providers["openai-eu"].model_extra == {"organization": "org-1"}
    assert config.model_extra["cache"]["ttl"] == 60


def test_mapping_config_is_checked_too():
    with pytest.raises(ConfigError, match=r"ledgr: unknown section; did you mean 'ledger'"):
        load_config({"ledgr": {}}, {})


@pytest.mark.parametrize(("url", "reason"), [
    ("localhost:8080/v1", "must start with http:// or https://"),
    ("ftp://host/v1", "must start with http:// or https://"),
    ("http:///v1", "has no host"),
    ("http://127.0.0.1:99999/v1", "invalid port"),
    ("http://127.0.0.1:port/v1", "invalid port"),
    ("http://127.0.0.1:0/v1", "invalid port"),
])
def test_bad_base_url_names_file_and_key(tmp_path, url, reason):
    message = refused(tmp_path, f'[providers.openai]\nbase_url = "{url}"\n')
    assert "providers.openai.base_url" in message and reason in message


def test_credentials_in_base_url_are_refused_not_shown(tmp_path):
    message = refused(tmp_path, '[providers.acme]\nplugin = "openai"\n'
                                'control_base_url = "https://bob:hunter2@acme.example/v1"\n')
    assert "providers.acme.control_base_url" in message
    assert "api_key" in message and "hunter2" not in message


@pytest.mark.parametrize("url", ["http://x/v1", "https://h.example:8443/v1",
                                 "http://[::1]:8080", "HTTPS://API.EXAMPLE"])
def test_good_base_urls(url):
    assert check_base_url(url) == url


# ------------------------------------------------------------ the registry and its owners


def keys(section: Section | None) -> set[str]:
    assert section is not None
    return set(section.keys)


def test_registry_matches_the_routing_models():
    from plugbay.routing.routes import BreakerSettings, RouteSettings, RoutingSettings

    assert keys(SECTIONS["routing"]) == set(RoutingSettings.model_fields)
    assert keys(SECTIONS["routing"].keys["breaker"]) == set(BreakerSettings.model_fields)
    assert keys(SECTIONS["routes"].each) == set(RouteSettings.model_fields)


def test_registry_matches_the_config_models():
    from plugbay._config_schema import PluginsSchema as PluginSelection
    from plugbay._config_schema import PriceOverride, ProviderConfig

    assert keys(SECTIONS["plugins"]) == set(PluginSelection.model_fields)
    assert keys(SECTIONS["prices"].each) == set(PriceOverride.model_fields)
    assert keys(SECTIONS["providers"].each) == set(ProviderConfig.model_fields)


def test_owners_accept_every_registered_key():
    """Each owner still parses its section by hand: none may call a registered key
    unknown (and each refuses an unregistered one, so the lists cannot drift apart)."""
    from plugbay.cache.settings import _KEYS as CACHE_KEYS
    from plugbay.cost.budgets.spec import _KEYS as BUDGET_KEYS
    from plugbay.cost.control import state_settings as _state_settings
    from plugbay.layers.hosted import load_layers
    from plugbay.ledger import LedgerSettings
    from plugbay.ratelimit import parse_rate_limits

    assert keys(SECTIONS["budgets"].each) == BUDGET_KEYS
    assert keys(SECTIONS["cache"]) == set(CACHE_KEYS)
    assert keys(SECTIONS["pipeline"]) == {"layers"}
    load_layers({"layers": []})  # its one key, accepted
    owners = [("ledger", lambda t: LedgerSettings.from_config(t, {})),
              ("state", _state_settings),
              ("rate_limits", lambda t: parse_rate_limits({"x": t}))]
    for name, parse in owners:
        section = SECTIONS[name]
        table = dict.fromkeys(keys(section if section.keys else section.each), 1)
        for candidate in (table, {**table, "zz_unregistered": 1}):
            try:
                parse(candidate)
                said = ""
            except ConfigError as exc:
                said = str(exc)
            assert ("unknown key" in said) == ("zz_unregistered" in candidate), (name, said)


def test_documented_config_blocks_load():
    """Every plugbay.toml example in the README and docs/cost.md passes the check."""
    from plugbay import _toml
    from plugbay.config_keys import check

    blocks = 0
    for doc in ("README.md", "docs/cost.md", "docs/cache.md", "docs/writing-a-layer.md"):
        text = (ROOT / doc).read_text()
        for block in re.findall(r"```toml\n(.*?)```", text, re.S):
            if "pyproject.toml" in block.partition("\n")[0]:
                continue  # a package's metadata, not a plugbay.toml
            check(_toml.loads(block), doc)
            blocks += 1
    assert blocks >= 2
