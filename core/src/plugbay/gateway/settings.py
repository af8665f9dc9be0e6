"""The ``[gateway]`` section of ``plugbay.toml``, read once at start-up.

::

    [gateway]
    host = "127.0.0.1"       # where `plugbay serve` listens (--host wins)
    port = 4000              # (--port wins)
    workers = 1              # worker processes (--workers wins)
    max_body = 4194304       # bytes a request body may have; more is a 413
    grace = 30               # seconds SIGTERM waits for calls in flight
    cors_origins = []        # origins allowed by CORS; empty: CORS is off
    log_prompts = false      # access logs never hold prompts unless this is on
    models_ttl = 60          # seconds GET /v1/models keeps the providers' listings

The master key comes from the environment only (``PLUGBAY_MASTER_KEY``), never from a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plugbay.errors import ConfigError

__all__ = ["GatewaySettings"]

_MIN_MASTER = 16


def _int(section: Mapping[str, Any], name: str, default: int, low: int, file: str | None,
         high: int | None = None) -> int:
    value = section.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (
            high is not None and value > high):
        span = f"from {low} to {high}" if high is not None else f">= {low}"
        raise ConfigError(f"must be an integer {span} (got {value!r}); fix: set e.g. "
                          f"{name} = {default} in [gateway]", file=file, key=f"gateway.{name}")
    return value


@dataclass(frozen=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = 4000
    workers: int = 1
    max_body: int = 4 * 1024 * 1024
    grace: int = 30
    cors_origins: tuple[str, ...] = ()
    log_prompts: bool = False
    models_ttl: int = 60
    master_key: str = field(default="", repr=False)

    @classmethod
    def read(cls, section: Any, env: Mapping[str, str],
             file: str | None = None) -> GatewaySettings:
        """``[gateway]`` and the environment, checked; ``ConfigError`` names the config
        ``file`` and the key."""
        s: Mapping[str, Any] = section if isinstance(section, Mapping) else {}
        origins = s.get("cors_origins", [])
        if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
            raise ConfigError('must be a list of origins; fix: set e.g. cors_origins = '
                              '["https://app.example.com"] in [gateway]', file=file,
                              key="gateway.cors_origins")
        host = s.get("host", "127.0.0.1")
        if not isinstance(host, str) or not host:
            raise ConfigError('must be a host name or address; fix: set e.g. '
                              'host = "127.0.0.1" in [gateway]', file=file, key="gateway.host")
        log_prompts = s.get("log_prompts", False)
        if not isinstance(log_prompts, bool):
            raise ConfigError("must be true or false; fix: set e.g. log_prompts = false "
                              "in [gateway]", file=file, key="gateway.log_prompts")
        master = env.get("PLUGBAY_MASTER_KEY", "").strip()
        if len(master) < _MIN_MASTER:
            what = "not set" if not master else f"{len(master)} characters"
            raise ConfigError(
                f"{what}: the gateway needs a master key of at least "
                f"{_MIN_MASTER} characters in the environment, e.g. "
                "export PLUGBAY_MASTER_KEY=$(openssl rand -hex 32)", file=file,
                key="PLUGBAY_MASTER_KEY")
        return cls(host=host, port=_int(s, "port", 4000, 0, file, high=65535),
                   workers=_int(s, "workers", 1, 1, file),
                   max_body=_int(s, "max_body", 4 * 1024 * 1024, 1024, file),
                   grace=_int(s, "grace", 30, 0, file), cors_origins=tuple(origins),
                   log_prompts=log_prompts, models_ttl=_int(s, "models_ttl", 60, 0, file),
                   master_key=master)
