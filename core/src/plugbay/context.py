"""``ProviderContext``: what a plugin's hooks receive about the provider instance.

One plugin can serve several instances (``[providers.openai-eu] plugin = "openai"``),
each with its own options and credentials. The context carries the instance's
name, its options from config, an environment snapshot (never ``os.environ``
read behind the caller's back), the shared HTTP client bound to this instance,
and ``state``: a per-instance dict where a plugin may cache tokens or tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from plugbay.errors import MissingAPIKeyError

if TYPE_CHECKING:
    from plugbay.http.client import HTTPClient
    from plugbay.http.models import Limits

__all__ = ["ProviderContext", "env_prefix", "instance_limits"]


def instance_limits(base: Limits, options: Mapping[str, Any]) -> Limits:
    """``base`` with the instance's own ``max_body``/``max_event`` options, if it has any."""
    own = {k: int(options[k]) for k in ("max_body", "max_event") if options.get(k)}
    return base.replace(**own) if own else base


def env_prefix(name: str) -> str:
    """``openai-eu`` -> ``OPENAI_EU``: the prefix of an instance's environment variables."""
    return name.upper().replace("-", "_").replace(".", "_")


class ProviderContext:
    __slots__ = ("_base_urls", "env", "http", "name", "options", "plugin", "state")

    def __init__(
        self,
        name: str,
        plugin: str,
        *,
        options: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        http: HTTPClient | None = None,
    ) -> None:
        self.name = name
        self.plugin = plugin
        self.options: Mapping[str, Any] = dict(options or {})
        self.env: Mapping[str, str] = dict(env or {})
        if http is None:
            from plugbay.http.client import HTTPClient

            http = HTTPClient()
        self.http = http.bind(name, instance_limits(http.limits, self.options))
        self.state: dict[str, Any] = {}
        self._base_urls: dict[str, str] = {}

    def option(self, key: str, default: Any = None) -> Any:
        """An option from this instance's config table."""
        return self.options.get(key, default)

    def setting(self, key: str, *fallback_env: str, default: str | None = None) -> str | None:
        """Config ``key``, else ``<NAME>_<KEY>``, else the fallback variables, else default."""
        value = self.options.get(key)
        if value:
            return str(value)
        for var in (f"{env_prefix(self.name)}_{key.upper()}", *fallback_env):
            if self.env.get(var):
                return self.env[var]
        return default

    def api_key(self, *fallback_env: str, required: bool = True) -> str | None:
        """The instance's key: config ``api_key``, ``<NAME>_API_KEY``, then the
        provider's conventional variables (``fallback_env``, e.g. ``HF_TOKEN``)."""
        key = self.setting("api_key", *fallback_env)
        if key is None and required:
            raise MissingAPIKeyError(self.name, [f"{env_prefix(self.name)}_API_KEY",
                                                 *fallback_env])
        return key

    def base_url(self, default: str) -> str:
        """Config ``base_url``, else ``<NAME>_BASE_URL``, else ``default``; no trailing slash.
        Resolved once per instance (options and env are snapshots): it is on every request."""
        found = self._base_urls.get(default)
        if found is None:
            given = self.setting("base_url")
            if given:  # checked once here too: it may come from the environment
                from plugbay.config_keys import check_base_url

                check_base_url(given, key=f"providers.{self.name}.base_url"
                               if self.options.get("base_url")
                               else f"{env_prefix(self.name)}_BASE_URL")
            found = self._base_urls[default] = (given or default).rstrip("/")
        return found

    def secrets(self) -> list[str]:
        """Values to redact from anything this instance reports."""
        found = [str(v) for k, v in self.options.items()
                 if v and any(s in k.lower() for s in ("key", "token", "secret", "password"))]
        prefix = env_prefix(self.name)
        found += [v for k, v in self.env.items()
                  if v and k.startswith(prefix) and any(s in k for s in ("KEY", "TOKEN", "SECRET"))]
        return found

    def __repr__(self) -> str:  # never show options: they hold secrets
        return f"ProviderContext(name={self.name!r}, plugin={self.plugin!r})"
