"""``plugbay embed -m provider/model "text" ...``: the vectors as JSON on stdout.

Each argument is one input (stdin, one input a line, when there is none); the output is
``{"model", "provider", "vectors", "usage", "cost"}``. Registered in ``plugbay.cli`` by
one line; errors are the CLI's one-line errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

__all__ = ["add_parser"]


def cmd_embed(args: argparse.Namespace, out: TextIO) -> int:
    from plugbay.client import Client

    texts = list(args.text) or [line for line in sys.stdin.read().splitlines() if line]
    with Client(args.config) as client:
        got = client.embed(args.model, texts, dimensions=args.dimensions,
                           input_type=args.input_type, encoding=args.encoding)
    cost = got.cost
    out.write(json.dumps({"model": got.model, "provider": got.provider,
                          "vectors": got.vectors,
                          "usage": got.usage.model_dump() if got.usage else None,
                          "cost": cost.total if cost is not None else None}) + "\n")
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("embed", help="embed texts; the vectors as JSON")
    p.add_argument("text", nargs="*", help="the inputs (default: one a line from stdin)")
    p.add_argument("-m", "--model", required=True, help="provider/model, or a route")
    p.add_argument("--dimensions", type=int)
    p.add_argument("--input-type", help="query, document, classification, clustering, "
                                        "similarity, or the provider's own")
    p.add_argument("--encoding", default="float",
                   help="float, int8, uint8, binary, ubinary or base64 (as offered)")
    p.add_argument("--json", action="store_true", help="errors as JSON too")
    p.set_defaults(func=cmd_embed)
