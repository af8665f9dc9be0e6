"""``plugbay tokens -m provider/model "text"``: how many input tokens a prompt is.

The text (the arguments joined by spaces, else all of stdin) is one user message,
after an optional ``--system`` one; the count is ``client.count_tokens``'s (the
provider's counter, a local tokenizer or the estimate: docs/tokens.md). Prints
``<count> tokens (exact|not exact, <source>)``, or the JSON object with ``--json``.
Registered in ``plugbay.cli`` by one line; errors are the CLI's one-line errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

__all__ = ["add_parser"]


def cmd_tokens(args: argparse.Namespace, out: TextIO) -> int:
    from plugbay.client import Client
    from plugbay.types import Message

    text = " ".join(args.text) if args.text else sys.stdin.read()
    messages = [*([Message.system(args.system)] if args.system else []), Message.user(text)]
    with Client(args.config) as client:
        got = client.count_tokens(args.model, messages)
    if args.json:
        out.write(json.dumps({"count": got.count, "exact": got.exact, "source": got.source,
                              "provider": got.provider, "model": got.model}) + "\n")
    else:
        out.write(f"{got.count} tokens ({'exact' if got.exact else 'not exact'}, "
                  f"{got.source})\n")
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("tokens", help="count a prompt's input tokens")
    p.add_argument("text", nargs="*", help="the prompt (default: stdin)")
    p.add_argument("-m", "--model", required=True, help="provider/model, or a route")
    p.add_argument("--system", help="a system message to count with it")
    p.add_argument("--json", action="store_true", help="the count as JSON")
    p.set_defaults(func=cmd_tokens)
