"""Configuration: files, interpolation, instances and error messages."""

import pytest

import plugbay
from plugbay.config import load_config
from plugbay.errors import ConfigError


def test_toml_instances_and_interpolation(tmp_path):
    path = tmp_path / "plugbay.toml"
    path.write_text('[providers.openai-eu]\nplugin = "openai"\napi_key = "${EU_KEY}"\n'
                    'base_url = "${EU_URL:-https://eu.example/v1}"\n')
    config = load_config(path, {"EU_KEY": "k-123"})
    table = config.providers["openai-eu"]
    assert (table.plugin, table.api_key, table.base_url) == ("openai", "k-123",
                                                             "https://eu.example/v1")
    assert config.plugin_for("openai-eu") == "openai"
    assert config.plugin_for("groq") == "groq"


def test_missing_variable_names_file_and_key(tmp_path):
    path = tmp_path / "plugbay.toml"
    path.write_text('[providers.x]\napi_key = "${NOPE}"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert str(path) in str(caught.value) and "providers.x.api_key" in str(caught.value)
    assert "NOPE" in str(caught.value)


def test_wrong_type_names_file_key_reason(tmp_path):
    path = tmp_path / "plugbay.toml"
    path.write_text('[providers.x]\ntimeout = "soon"\n')
    with pytest.raises(ConfigError, match=r"plugbay.toml: providers.x.timeout: .*number"):
        load_config(path, {})


def test_invalid_toml(tmp_path):
    path = tmp_path / "plugbay.toml"
    path.write_text("[providers\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(path, {})


def test_pyproject_tool_table(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.plugbay.providers.openai]\n'
                                             'base_url = "http://x/v1"\n')
    monkeypatch.chdir(tmp_path)
    assert plugbay.Client(env={}).config.providers["openai"].base_url == "http://x/v1"


def test_env_key_and_base_url_for_instance():
    from plugbay.context import ProviderContext

    ctx = ProviderContext("openai-eu", "openai", env={"OPENAI_EU_API_KEY": "k",
                                                      "OPENAI_EU_BASE_URL": "http://eu/v1/"})
    assert ctx.api_key() == "k"
    assert ctx.base_url("http://default") == "http://eu/v1"
    hf = ProviderContext("huggingface", "huggingface", env={"HF_TOKEN": "hf_x"})
    assert hf.api_key("HF_TOKEN") == "hf_x"
    with pytest.raises(plugbay.MissingAPIKeyError, match="HUGGINGFACE_API_KEY or HF_TOKEN"):
        ProviderContext("huggingface", "huggingface", env={}).api_key("HF_TOKEN")


def test_config_keeps_other_sections_raw_and_validates_its_own():
    from plugbay.config import Config

    config = load_config({"timeout": "5", "routes": {"r": {"targets": ["a/b"]}},
                          "prices": {"a/b": {"input": 1, "output": 2}}}, {})
    assert config.timeout == 5.0 and config.prices["a/b"].model_dump()["input"] == 1.0
    assert config.model_extra == {"routes": {"r": {"targets": ["a/b"]}}}
    assert config.routes == config.model_extra["routes"]  # as pydantic's extra="allow" did
    assert load_config(Config(), {}).providers == {} and Config().plugins.enable is None
    with pytest.raises(ConfigError, match=r"prices.a/b.input"):
        load_config({"prices": {"a/b": {"input": "x", "output": 2}}}, {})
