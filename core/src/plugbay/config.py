"""Configuration: ``plugbay.toml`` (or ``[tool.plugbay]`` in pyproject.toml) and the environment.

Shape::

    timeout = 60                      # default per-call timeout, seconds

    [plugins]
    enable = ["openai", "anthropic"]  # like PLUGBAY_PLUGINS
    disable = ["replicate"]           # like PLUGBAY_DISABLE_PLUGINS

    [providers.openai-eu]             # an instance; the table name is the provider name
    plugin = "openai"                 # which plugin serves it (default: the table name)
    api_key = "${OPENAI_EU_KEY}"      # ${VAR} and ${VAR:-default} are interpolated
    base_url = "https://eu.api.openai.com/v1"
    max_body = "64 MiB"               # this instance's response limits (default: [http])

    [http]                            # every response's memory limits (http.models.Limits)
    max_body = "32 MiB"               # a body read whole, after gzip/deflate decoding
    max_event = "8 MiB"               # one SSE event or NDJSON line of a stream

    [prices."openai/my-finetune"]     # per-million-token overrides
    input = 3.0
    output = 12.0

Every error names the file, the key and the reason (``ConfigError``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ByteSize, ConfigDict, Field, ValidationError

from plugbay.errors import ConfigError
from plugbay.http.models import Limits

__all__ = ["Config", "HTTPSettings", "PriceOverride", "ProviderConfig", "find_config_file",
           "load_config"]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
Size = Annotated[ByteSize, Field(gt=0)]  # 1048576, "1 MiB" or "1MB"


class ProviderConfig(BaseModel):
    """One provider instance. Unknown keys are plugin options and are kept."""

    model_config = ConfigDict(extra="allow")

    plugin: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    base_url: str | None = None
    timeout: float | None = None
    max_body: Size | None = None
    max_event: Size | None = None


class HTTPSettings(BaseModel):
    """``[http]``: what one response may hold in memory, for every provider instance."""

    model_config = ConfigDict(extra="forbid")

    max_body: Size | None = None
    max_event: Size | None = None

    def limits(self) -> Limits:
        return Limits(**{k: int(v) for k, v in self.model_dump(exclude_none=True).items()})


class PriceOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None
    currency: str = "USD"
    as_of: str | None = None
    source: str = "plugbay.toml"


class PluginSelection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enable: list[str] | None = None
    disable: list[str] = Field(default_factory=list)


class Config(BaseModel):
    """Validated settings. Sections other issues add (routes, budgets, ledger) are kept raw."""

    model_config = ConfigDict(extra="allow")

    timeout: float | None = None
    plugins: PluginSelection = Field(default_factory=PluginSelection)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    prices: dict[str, PriceOverride] = Field(default_factory=dict)
    http: HTTPSettings = Field(default_factory=HTTPSettings)
    source: str | None = Field(default=None, exclude=True)

    def provider(self, name: str) -> ProviderConfig | None:
        return self.providers.get(name)

    def plugin_for(self, name: str) -> str:
        """The plugin serving provider instance ``name``."""
        table = self.providers.get(name)
        return (table.plugin if table and table.plugin else name)


def _interpolate(value: Any, env: Mapping[str, str], file: str | None, key: str) -> Any:
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            var, default = m.group(1), m.group(2)
            if var in env:
                return env[var]
            if default is not None:
                return default
            raise ConfigError(f"environment variable {var} is not set (use ${{{var}:-default}} "
                              "for a fallback)", file=file, key=key)
        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: _interpolate(v, env, file, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env, file, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    from plugbay import _toml

    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = _toml.load(fh)
            return data
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(path)) from None
    except _toml.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=str(path)) from None


def find_config_file(env: Mapping[str, str], cwd: Path | None = None) -> Path | None:
    """``PLUGBAY_CONFIG``, else ``plugbay.toml`` in the working directory, else a
    ``pyproject.toml`` there that has ``[tool.plugbay]``."""
    if env.get("PLUGBAY_CONFIG"):
        return Path(env["PLUGBAY_CONFIG"])
    here = cwd or Path.cwd()
    if (here / "plugbay.toml").is_file():
        return here / "plugbay.toml"
    pyproject = here / "pyproject.toml"
    if pyproject.is_file() and b"[tool.plugbay" in pyproject.read_bytes():
        return pyproject
    return None


def validate(data: Mapping[str, Any], *, file: str | None = None) -> Config:
    try:
        config = Config.model_validate(dict(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise ConfigError(err["msg"], file=file, key=key) from None
    config.source = file
    return config


def load_config(
    config: Config | Mapping[str, Any] | str | Path | None, env: Mapping[str, str]
) -> Config:
    """Build the ``Config`` from an object, a mapping, a file, or the default file."""
    if isinstance(config, Config):
        return config
    if isinstance(config, Mapping):
        return validate(_interpolate(dict(config), env, None, ""))
    path = Path(config) if config is not None else find_config_file(env)
    if path is None:
        return Config()
    if not path.is_file():
        raise ConfigError("file not found", file=str(path))
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("plugbay", {})
    return validate(_interpolate(data, env, str(path), ""), file=str(path))
