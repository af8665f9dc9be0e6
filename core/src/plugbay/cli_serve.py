"""``plugbay serve``: the gateway (``plugbay[gateway]``, docs/gateway.md)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

__all__ = ["add_parser"]


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from plugbay.gateway.serve import serve

    return serve(args.config, host=args.host, port=args.port, workers=args.workers,
                 access_log=not args.no_access_log, log_level=args.log_level)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the OpenAI- and Anthropic-compatible gateway")
    p.add_argument("--config", "-c", default=argparse.SUPPRESS,
                   help="plugbay.toml (default: the usual lookup)")
    p.add_argument("--host", help="address to listen on (default: [gateway] host)")
    p.add_argument("--port", type=int, help="port (default: [gateway] port, 4000)")
    p.add_argument("--workers", type=int, help="worker processes (default: [gateway] workers)")
    p.add_argument("--no-access-log", action="store_true",
                   help="no JSON access line per request")
    p.add_argument("--log-level", default="warning",
                   choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=cmd_serve)
