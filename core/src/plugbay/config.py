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

    [prices."openai/my-finetune"]     # per-million-token overrides
    input = 3.0
    output = 12.0

Every error names the file, the key and the reason (``ConfigError``). An unknown
section or key is an error; ``plugbay.config_keys.SECTIONS`` lists the known ones. Nothing
here imports pydantic: the schema (``plugbay._config_schema``) loads only when there is a
table to validate, so a ``Client`` with no config file pays nothing for it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from plugbay.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

    from plugbay._config_schema import HTTPSettings, PriceOverride, ProviderConfig
    from plugbay.http.models import Limits

__all__ = ["Config", "HTTPSettings", "PriceOverride", "ProviderConfig", "find_config_file",
           "load_config"]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def __getattr__(name: str) -> Any:
    # The pydantic table models load on first use: a Client with no config never needs them.
    if name in ("HTTPSettings", "PriceOverride", "ProviderConfig"):
        from plugbay import _config_schema

        return getattr(_config_schema, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class PluginSelection:
    """``[plugins]``: ``enable`` (``None``: every installed plugin) and ``disable``."""

    __slots__ = ("disable", "enable")

    def __init__(self, enable: list[str] | None = None, disable: list[str] | None = None) -> None:
        self.enable = enable
        self.disable: list[str] = list(disable or ())

    def __repr__(self) -> str:
        return f"PluginSelection(enable={self.enable!r}, disable={self.disable!r})"


class HTTPSection:
    """``[http]``: ``limits()`` gives what one response may hold in memory."""

    __slots__ = ("_limits",)

    def __init__(self, limits: Limits | None = None) -> None:
        self._limits = limits

    def limits(self) -> Limits:
        if self._limits is None:
            from plugbay.http.models import Limits

            self._limits = Limits()
        return self._limits


class Config:
    """Validated settings. Sections other issues add (routes, budgets, ledger) are kept raw
    in ``model_extra``.

    A plain object, so that ``Config()`` (no config file) costs no pydantic import;
    ``Config(**data)`` and ``Config.model_validate(data)`` validate ``data`` with the
    schema in ``plugbay._config_schema`` (pydantic ``ValidationError`` on a bad value).
    """

    __slots__ = ("http", "model_extra", "plugins", "prices", "providers", "source",
                 "timeout")

    def __init__(self, **data: Any) -> None:
        self.timeout: float | None = None
        self.plugins = PluginSelection()
        self.providers: dict[str, ProviderConfig] = {}
        self.prices: dict[str, PriceOverride] = {}
        self.source: str | None = None
        self.model_extra: dict[str, Any] = {}
        self.http = HTTPSection()  # [http]: response size limits
        if data:
            from plugbay._config_schema import ConfigSchema

            valid = ConfigSchema.model_validate(data)
            self.timeout, self.source = valid.timeout, valid.source
            self.plugins = PluginSelection(valid.plugins.enable, valid.plugins.disable)
            self.providers, self.prices = valid.providers, valid.prices
            self.model_extra = dict(valid.model_extra or {})
            if valid.http.model_fields_set:
                self.http = HTTPSection(valid.http.limits())

    @classmethod
    def model_validate(cls, data: Mapping[str, Any]) -> Config:
        return cls(**data)

    if not TYPE_CHECKING:  # an extra section as an attribute, as pydantic's extra="allow" did
        def __getattr__(self, name: str) -> Any:
            extra = self.model_extra if name != "model_extra" else {}
            if name in extra:
                return extra[name]
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def provider(self, name: str) -> ProviderConfig | None:
        return self.providers.get(name)

    def plugin_for(self, name: str) -> str:
        """The plugin serving provider instance ``name``."""
        table = self.providers.get(name)
        return (table.plugin if table and table.plugin else name)

    def __repr__(self) -> str:
        return (f"Config(timeout={self.timeout!r}, plugins={self.plugins!r}, "
                f"providers={self.providers!r}, prices={self.prices!r}, "
                f"source={self.source!r}, extra={sorted(self.model_extra)!r})")


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
    found = env.get("PLUGBAY_CONFIG") or None
    if found is None:  # os.path, not pathlib: finding nothing should import nothing
        here = os.fspath(cwd) if cwd is not None else os.getcwd()
        toml, pyproject = os.path.join(here, "plugbay.toml"), os.path.join(here, "pyproject.toml")
        if os.path.isfile(toml):
            found = toml
        elif os.path.isfile(pyproject):
            with open(pyproject, "rb") as fh:
                found = pyproject if b"[tool.plugbay" in fh.read() else None
    if found is None:
        return None
    from pathlib import Path

    return Path(found)


def validate(data: Mapping[str, Any], *, file: str | None = None) -> Config:
    config = Config()  # nothing to validate: no pydantic needed
    if data:
        from pydantic import ValidationError

        from plugbay.config_keys import check

        check(data, file)  # unknown sections and keys, base URLs (see SECTIONS)
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
    if config is None:
        path = find_config_file(env)
        if path is None:
            return Config()
    else:
        from pathlib import Path

        path = Path(config)
    if not path.is_file():
        raise ConfigError("file not found", file=str(path))
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("plugbay", {})
    return validate(_interpolate(data, env, str(path), ""), file=str(path))
