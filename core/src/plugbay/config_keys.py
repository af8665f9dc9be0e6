"""What ``plugbay.toml`` may hold, checked when it is loaded (before any plugin loads).

``SECTIONS`` is the registry: one entry per top-level section, declared once by the
section's owner (the module that reads it). The loader walks the file against it and
rejects an unknown section or key with the nearest valid name, and checks every base
URL in ``[providers.*]``. A new section adds its entry here, nothing else::

    SECTIONS["cache"] = Section.of("backend", "ttl", "namespace", "max_bytes", "path", "url")

Plain data, no pydantic: this runs on every config load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plugbay.errors import ConfigError

__all__ = ["SECTIONS", "Section", "check", "check_base_url"]


@dataclass(frozen=True)
class Section:
    """The keys a table may hold.

    ``keys`` maps each fixed key to ``None`` (a value) or a ``Section`` (a fixed
    sub-table); ``each`` is the shape of user-named sub-tables (``[routes.<name>]``);
    ``open`` accepts any key (``[agents]``); ``plugin_options`` accepts any key except a
    near-miss of a fixed one (provider tables: unknown keys are the plugin's options).
    """

    keys: Mapping[str, Section | None] = field(default_factory=dict)
    each: Section | None = None
    open: bool = False
    plugin_options: bool = False
    owner: str = ""

    @classmethod
    def of(cls, *names: str, owner: str = "", **subtables: Section) -> Section:
        return cls(keys={**dict.fromkeys(names), **subtables}, owner=owner)


# Each section's keys, declared once. ``owner`` is the module that parses the section.
SECTIONS: dict[str, Section | None] = {
    "timeout": None,  # a plain value (plugbay.client)
    "plugins": Section.of("enable", "disable", owner="plugbay.plugins"),
    "providers": Section(each=Section(
        keys=dict.fromkeys(("plugin", "api_key", "base_url", "timeout", "max_body",
                            "max_event")),
        plugin_options=True), owner="plugbay.context"),
    "prices": Section(each=Section.of(
        "input", "output", "cached_input", "cache_write", "reasoning", "currency", "as_of",
        "source"), owner="plugbay.cost.prices"),
    "ledger": Section.of("path", "url", "record_text", "batch", "enabled",
                         owner="plugbay.cost.ledger"),
    "state": Section.of("backend", "url", "prefix", "timeout", "backoff", "hold_ttl",
                        owner="plugbay.cost.control"),
    "budgets": Section(keys={"estimate_output_tokens": None}, each=Section.of(
        "scope", "period", "limit", "mode", "thresholds", "on_exceed", "downgrade_to",
        "currency"), owner="plugbay.cost.budgets"),
    "rate_limits": Section(each=Section.of("rpm", "tpm", "on_limit", "max_wait"),
                           owner="plugbay.cost.ratelimit"),
    "otel": Section.of("enabled", owner="plugbay.otel"),
    "routing": Section.of(
        "retries", "max_attempts", "retry_budget", "retry_budget_min", "backoff_base",
        "backoff_max", "retry_after_cap", "health_interval", "ewma_alpha",
        breaker=Section.of("threshold", "window", "cooldown"), owner="plugbay.routing.routes"),
    "routes": Section(each=Section.of(
        "strategy", "targets", "deadline", "attempt_timeout", "ttft_timeout", "idle_timeout",
        "max_attempts", "context_failover", "content_filter_failover", "hedge", "hedge_after",
        "experiment",
        "weights", "options"), owner="plugbay.routing.routes"),
    "agents": Section(open=True, owner="plugbay.routing.routes"),
    "cache": Section.of("enabled", "backend", "ttl", "namespace", "max_bytes", "path", "url",
                        "prefix", owner="plugbay.cache.settings"),
    "pipeline": Section.of("layers", owner="plugbay.layers.hosted"),
    "http": Section.of("max_body", "max_event", owner="plugbay._config_schema"),
    "gateway": Section.of("host", "port", "workers", "max_body", "grace", "cors_origins",
                          "log_prompts", "models_ttl", owner="plugbay.gateway.settings"),
}

ROOT = Section(keys=SECTIONS)


def check(data: Mapping[str, Any], file: str | None) -> None:
    """Raise ``ConfigError`` for the first unknown section or key, or bad base URL."""
    _walk(ROOT, data, file, "")


def _walk(section: Section, table: Mapping[str, Any], file: str | None, where: str) -> None:
    for key, value in table.items():
        path = f"{where}.{key}" if where else str(key)
        if key in section.keys:
            sub = section.keys[key]
            if sub is not None and isinstance(value, Mapping):
                _walk(sub, value, file, path)
        elif section.each is not None and isinstance(value, Mapping):
            _walk(section.each, value, file, path)
        elif section.each is not None and not section.keys:
            continue  # [routes] smart = 3: the owner says it must be a table
        elif section.open:
            continue
        elif section.plugin_options:
            near = _nearest(str(key), section.keys, cutoff=0.85)
            if near:
                raise ConfigError(f"unknown key; did you mean {near!r}?", file=file, key=path)
        else:
            raise ConfigError(_unknown(str(key), section, top=not where), file=file, key=path)
        if isinstance(value, str) and (key == "base_url" or str(key).endswith("_base_url")) \
                and where.startswith("providers."):
            check_base_url(value, file=file, key=path)


def _nearest(name: str, known: Mapping[str, Any] | list[str], cutoff: float = 0.6) -> str | None:
    import difflib

    found = difflib.get_close_matches(name, list(known), n=1, cutoff=cutoff)
    return found[0] if found else None


def _unknown(name: str, section: Section, *, top: bool) -> str:
    what = "section" if top else "key"
    near = _nearest(name, section.keys)
    if near:
        return f"unknown {what}; did you mean {near!r}?"
    return f"unknown {what}; known: {', '.join(section.keys) or 'none'}"


def check_base_url(url: str, *, file: str | None = None, key: str | None = None) -> str:
    """``url`` when it is http(s) with a host and a valid port and no credentials;
    else ``ConfigError`` (the URL is never echoed when it may hold a password)."""
    from urllib.parse import urlsplit

    shown = "" if "@" in url else f" (got {url!r})"
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # ValueError when not a number or out of range
    except ValueError:
        raise ConfigError(f"has an invalid port: use 1-65535{shown}", file=file,
                          key=key) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigError(f"must start with http:// or https://{shown}", file=file, key=key)
    if parts.username is not None or parts.password is not None:
        raise ConfigError("must not hold credentials (user:password@host): put the key in "
                          "the api_key option or the provider's *_API_KEY environment variable",
                          file=file, key=key)
    if not parts.hostname:
        raise ConfigError(f"has no host{shown}", file=file, key=key)
    if port == 0:
        raise ConfigError(f"has an invalid port: use 1-65535{shown}", file=file, key=key)
    return url
