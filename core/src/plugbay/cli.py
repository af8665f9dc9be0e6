"""The ``plugbay`` command: plugins, models, complete, health.

User errors (unknown provider, missing key, bad config, a model the provider
rejects) print one line to stderr and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from plugbay import errors

__all__ = ["main"]

EXIT_USAGE = 2


def _client(args: argparse.Namespace) -> Any:
    from plugbay.client import Client

    return Client(args.config)


def _table(rows: list[list[str]], out: TextIO) -> None:
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def cmd_plugins(args: argparse.Namespace, out: TextIO) -> int:
    client = _client(args)
    client.host.load_all()
    statuses = client.plugins()
    if args.json:
        out.write(json.dumps([s.__dict__ for s in statuses], indent=2) + "\n")
        return 0
    rows = [["NAME", "DISTRIBUTION", "VERSION", "STATE", "DETAIL"]]
    rows += [[s.name, s.distribution or "-", s.version or "-", s.state, s.error or ""]
             for s in statuses]
    _table(rows, out)
    if len(rows) == 1:
        out.write("no plugins installed: pip install plugbay-openai (or another provider)\n")
    return 0


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def cmd_models(args: argparse.Namespace, out: TextIO) -> int:
    client = _client(args)
    listing = client.models(args.provider)
    if args.json:
        out.write(json.dumps([m.model_dump(mode="json") for m in listing], indent=2) + "\n")
        return 0
    rows = [["MODEL", "CONTEXT", "INPUT $/M", "OUTPUT $/M", "AS OF"]]
    for info in sorted(listing, key=lambda m: (m.provider, m.id)):
        price = client.price(f"{info.provider}/{info.id}")
        rows.append([f"{info.provider}/{info.id}", str(info.context_window or "-"),
                     _money(price.input if price else None),
                     _money(price.output if price else None),
                     str(price.as_of) if price else "-"])
    _table(rows, out)
    for name, reason in sorted(listing.errors.items()):
        sys.stderr.write(f"plugbay: {name}: {reason}\n")
    return 0


def cmd_health(args: argparse.Namespace, out: TextIO) -> int:
    client = _client(args)
    report = client.health(args.provider)
    if args.json:
        out.write(json.dumps([h.model_dump(mode="json") for h in report], indent=2) + "\n")
    else:
        rows = [["PROVIDER", "STATUS", "LATENCY", "DETAIL"]]
        rows += [[h.provider, h.status,
                  f"{h.latency * 1000:.0f} ms" if h.latency is not None else "-",
                  (h.detail or "")[:120]] for h in report]
        _table(rows, out)
    return 0 if all(h.status != "down" for h in report) else 1


def cmd_complete(args: argparse.Namespace, out: TextIO) -> int:
    from plugbay.types import Message

    prompt = args.prompt if args.prompt is not None else sys.stdin.read()
    if not prompt.strip():
        raise _UsageError("no prompt: give one as an argument or on stdin")
    messages = ([Message.system(args.system)] if args.system else []) + [Message.user(prompt)]
    params: dict[str, Any] = {}
    if args.temperature is not None:
        params["temperature"] = args.temperature
    if args.max_tokens is not None:
        params["max_tokens"] = args.max_tokens
    client = _client(args)
    try:
        if args.json:
            result = client.complete(args.model, messages, **params)
            out.write(result.model_dump_json(indent=2, exclude={"price"}) + "\n")
            return 0
        with client.stream(args.model, messages, **params) as stream:
            for event in stream:
                if event.type == "text":
                    out.write(event.text)
                    out.flush()
        out.write("\n")
    except errors.ModelNotFoundError as exc:
        raise _UsageError(_not_found(client, args.model, exc)) from None
    finally:
        client.close()
    return 0


def _not_found(client: Any, model: str, exc: errors.APIError) -> str:
    provider, _, model_id = model.partition("/")
    try:
        ids = [m.id for m in client.models(provider)]
    except errors.PlugbayError:
        ids = []
    close = difflib.get_close_matches(model_id, ids, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(f'{provider}/{c}' for c in close)}?" if close else ""
    return f"{provider} does not know model {model_id!r} ({exc.message}){hint}"


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="plugbay", description="Call any LLM provider.")
    parser.add_argument("--config", help="path to plugbay.toml (default: ./plugbay.toml)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("plugins", help="installed plugins: loaded or broken, and why")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("models", help="models with context window and price")
    p.add_argument("--provider", "-p")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("complete", help="complete a prompt, streaming to the terminal")
    p.add_argument("prompt", nargs="?", help="the prompt (default: read stdin)")
    p.add_argument("-m", "--model", required=True, help="provider/model")
    p.add_argument("-s", "--system", help="system prompt")
    p.add_argument("-t", "--temperature", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--json", action="store_true", help="print the whole completion as JSON")
    p.set_defaults(func=cmd_complete)

    p = sub.add_parser("health", help="check every provider (or one)")
    p.add_argument("--provider", "-p")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_health)

    from plugbay.scaffold import add_parser as add_new_plugin  # cookiecutter is imported on use

    add_new_plugin(sub)
    for register in EXTRA_COMMANDS:
        register(sub)
    return parser


EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def _usage_commands(sub: Any) -> None:
    # `plugbay usage` / `plugbay budget` (issue 7), imported only when the CLI runs.
    from plugbay.cli_usage import register

    register(sub)


EXTRA_COMMANDS.append(_usage_commands)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args, out)
        return code
    except (errors.PlugbayError, _UsageError) as exc:
        sys.stderr.write(f"plugbay: error: {_one_line(exc)}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("plugbay: interrupted\n")
        return 130


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
