"""``plugbay serve``: check the config, then run the gateway under uvicorn's process
supervisor with N workers on one shared socket.

Before any worker starts, the whole config is loaded and checked in this process (the
file, ``[gateway]``, routes, the ledger and keys), so a bad config is one line naming
the file and key, and a non-zero exit. Signals are uvicorn's: SIGTERM drains calls in
flight for up to ``[gateway] grace`` seconds, then exits; SIGHUP re-reads the config by
starting new workers and retiring the old ones only once they are ready, so no call in
flight is dropped (``POST /admin/reload`` sends it).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from plugbay.errors import ConfigError

__all__ = ["serve"]


def _logging(level: str) -> dict[str, Any]:
    # One JSON line per request on stderr ("plugbay.gateway.access"); uvicorn's own
    # access log is off (it would log paths only, twice).
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
                       "line": {"format": "%(message)s"}},
        "handlers": {"err": {"class": "logging.StreamHandler", "formatter": "plain",
                             "stream": "ext://sys.stderr"},
                     "access": {"class": "logging.StreamHandler", "formatter": "line",
                                "stream": "ext://sys.stderr"}},
        "loggers": {"uvicorn": {"handlers": ["err"], "level": level.upper()},
                    "plugbay": {"handlers": ["err"], "level": level.upper()},
                    "plugbay.gateway.access": {"handlers": ["access"], "level": "INFO",
                                               "propagate": False}},
    }


def serve(config: str | Path | None, *, host: str | None = None, port: int | None = None,
          workers: int | None = None, access_log: bool = True,
          log_level: str = "warning") -> int:
    """Run until SIGTERM/SIGINT. Returns the exit code."""
    try:
        import uvicorn
        from uvicorn.supervisors import Multiprocess
    except ImportError:
        raise ConfigError("the gateway is not installed: pip install 'plugbay[gateway]'",
                          key="gateway") from None
    path = str(Path(config).resolve()) if config is not None else None
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"no config file at {path}", file=path)
    from plugbay.gateway.app import check

    settings = check(path, os.environ)
    if path is not None:
        os.environ["PLUGBAY_GATEWAY_CONFIG"] = path  # the workers read the same file
    os.environ["PLUGBAY_GATEWAY_SUPERVISED"] = "1"  # POST /admin/reload may signal us
    metrics_dir = tempfile.mkdtemp(prefix="plugbay-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    logging_config = _logging(log_level)
    if not access_log:
        logging_config["loggers"]["plugbay.gateway.access"]["level"] = "WARNING"
    cfg = uvicorn.Config(
        "plugbay.gateway.app:create_app", factory=True,
        host=host or settings.host, port=port if port is not None else settings.port,
        workers=workers or settings.workers, loop="uvloop" if _has("uvloop") else "asyncio",
        http="httptools" if _has("httptools") else "h11", lifespan="on",
        access_log=False, log_config=logging_config, server_header=False,
        timeout_graceful_shutdown=settings.grace, timeout_keep_alive=30)
    sock = cfg.bind_socket()
    try:
        Multiprocess(cfg, sockets=[sock]).run()
    finally:
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None and sys.platform != "win32"
