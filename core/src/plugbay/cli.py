"""The ``plugbay`` command: plugins, models, complete, health.

User errors (unknown provider, route or agent, missing key, bad config, bad input, a
model the provider rejects) print one line to stderr and exit with status 2; no
traceback. With ``--json`` the error is printed to stdout as JSON instead:
``{"error": {"class", "provider", "status", "message", ...}}``.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib
import json
import re
import sys
from collections.abc import Iterator, Sequence
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
    from plugbay.operations import operations

    client = _client(args)
    loaded = client.host.load_all()
    statuses = client.plugins()
    ops = {s.name: operations(loaded.get(s.name)) for s in statuses}
    if args.json:
        out.write(json.dumps([{**s.__dict__, "operations": ops[s.name]} for s in statuses],
                             indent=2) + "\n")
        return 0
    rows = [["NAME", "DISTRIBUTION", "VERSION", "STATE", "OPERATIONS", "DETAIL"]]
    rows += [[s.name, s.distribution or "-", s.version or "-", s.state,
              ",".join(ops[s.name]) or "-", s.error or ""] for s in statuses]
    _table(rows, out)
    if len(rows) == 1:
        out.write("no plugins installed: pip install plugbay-openai (or another provider)\n")
    return 0


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def cmd_models(args: argparse.Namespace, out: TextIO) -> int:
    client = _client(args)
    with _quiet():
        listing = client.models(args.provider)
    if args.json:
        out.write(json.dumps([m.model_dump(mode="json") for m in listing], indent=2) + "\n")
        return 0
    from plugbay.operations import operations

    rows = [["MODEL", "CONTEXT", "INPUT $/M", "OUTPUT $/M", "AS OF", "OPERATIONS"]]
    for info in sorted(listing, key=lambda m: (m.provider, m.id)):
        price = client.price(f"{info.provider}/{info.id}")
        ops = operations(client.targets.get(info.provider).plugin)  # the provider's
        rows.append([f"{info.provider}/{info.id}", str(info.context_window or "-"),
                     _money(price.input if price else None),
                     _money(price.output if price else None),
                     str(price.as_of) if price else "-", ",".join(ops) or "-"])
    _table(rows, out)
    for name, reason in sorted(listing.errors.items()):
        sys.stderr.write(f"plugbay: {name}: {reason}\n")
    return 0


# SDK loggers that print to stderr while their plugin probes credentials (Azure's chain
# lists every credential it tried; urllib3 warns on each metadata-server retry).
NOISY_LOGGERS = ("azure", "urllib3", "google.auth")


@contextlib.contextmanager
def _quiet(names: Sequence[str] = NOISY_LOGGERS) -> Iterator[None]:
    """Silence ``names`` for one command: the table (or the error line) says what failed."""
    import logging
    import warnings

    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():  # urllib3's own warnings go through `warnings`
            warnings.filterwarnings("ignore", module=r"urllib3(\.|$)")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def cmd_health(args: argparse.Namespace, out: TextIO) -> int:
    client = _client(args)
    with _quiet():
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

    prompt = args.prompt if args.prompt is not None else _read_stdin()
    _check_utf8(prompt, "the prompt")
    if not prompt.strip():
        raise _UsageError("no prompt: give one as an argument or on stdin")
    messages = ([Message.system(args.system)] if args.system else []) + [Message.user(prompt)]
    params = _params(args)
    client = _client(args)
    try:
        if args.json and not args.stream:
            result = client.complete(args.model, messages, **params)
            out.write(result.model_dump_json(indent=2, exclude={"price"}) + "\n")
            return 0
        with client.stream(args.model, messages, **params) as stream:
            for event in stream:
                if event.type == "text" and not args.json:
                    out.write(event.text)
                    out.flush()
        if args.json:  # the final completion, as `complete --json` prints it
            out.write(stream.completion.model_dump_json(indent=2, exclude={"price"}) + "\n")
        else:
            out.write("\n")
    except errors.ModelNotFoundError as exc:
        raise _UsageError(_not_found(client, args.model, exc)) from exc
    finally:
        client.close()
    return 0


def _read_stdin() -> str:
    """stdin as strict UTF-8 (the text layer would smuggle bad bytes in as surrogates)."""
    raw = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _UsageError(f"stdin is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                          f"{exc.start}): convert it first, e.g. iconv -t utf-8") from None


def _check_utf8(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _UsageError(f"{what} is not UTF-8 text (at offset {exc.start})") from None


def _params(args: argparse.Namespace) -> dict[str, Any]:
    """The sampling options, checked against ``Request``'s rules before any call."""
    from pydantic import ValidationError

    from plugbay.types import Request

    params: dict[str, Any] = {}
    if args.temperature is not None:
        params["temperature"] = args.temperature
    if args.max_tokens is not None:
        params["max_tokens"] = args.max_tokens
    try:
        Request(model="-", messages=[], **params)
    except ValidationError as exc:
        err = exc.errors()[0]
        option = "--" + str(err["loc"][0]).replace("_", "-")
        bound = (err.get("ctx") or {}).get("ge")
        rule = f"must be at least {bound:g}" if bound is not None else err["msg"].lower()
        raise _UsageError(f"{option} {rule} (got {err['input']!r})") from None
    return params


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
    p.add_argument("-m", "--model", required=True,
                   help="provider/model, a route, or agent:<name>")
    p.add_argument("-s", "--system", help="system prompt")
    p.add_argument("-t", "--temperature", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--json", action="store_true",
                   help="print the whole completion (or the error) as JSON")
    p.add_argument("--stream", action="store_true",
                   help="with --json: stream the call, then print the final completion")
    p.set_defaults(func=cmd_complete)

    p = sub.add_parser("health", help="check every provider (or one)")
    p.add_argument("--provider", "-p")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_health)

    from plugbay.scaffold import add_parser as add_new_plugin  # cookiecutter is imported on use

    add_new_plugin(sub)
    for module, function in EXTRA_COMMANDS:
        getattr(importlib.import_module(module), function)(sub)
    return parser


# Subcommands kept in their own modules, imported only when the CLI builds its parser:
# (module, the function that adds its subparsers).
EXTRA_COMMANDS: tuple[tuple[str, str], ...] = (
    ("plugbay.cli_usage", "register"),  # usage, budget (issue 7)
    ("plugbay.cli_embed", "add_parser"),  # embed (issue 15)
    ("plugbay.cli_batch", "add_parser"),  # batch (issue 16)
    ("plugbay.cli_keys", "add_parser"),  # keys (issue 14)
    ("plugbay.cli_serve", "add_parser"),  # serve, the gateway (issue 14)
)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args, out)
        return code
    except (errors.PlugbayError, _UsageError) as exc:
        if getattr(args, "json", False):
            out.write(json.dumps({"error": error_json(exc)}, indent=2) + "\n")
        else:
            sys.stderr.write(f"plugbay: error: {_one_line(exc)}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("plugbay: interrupted\n")
        return 130


def error_json(exc: BaseException) -> dict[str, Any]:
    """What a script needs to act on an error: its class, provider, status, message, and
    the rest of what plugbay knows (retryable, retry_after, code, file, key...)."""
    cause = exc.__cause__ if isinstance(exc, _UsageError) and exc.__cause__ else exc
    kind = "UsageError" if isinstance(cause, _UsageError) else type(cause).__name__
    found: dict[str, Any] = {"class": kind, "provider": None, "status": None,
                             "message": _one_line(exc)}
    for name in ("provider", "status", "code", "request_id", "retryable", "retry_after",
                 "file", "key"):
        value = getattr(cause, name, None)
        if value is not None or name in found:
            found[name] = value
    return found


_SECONDS = re.compile(r"\b(\d+\.\d{4,})(?= s\b)")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    # "no answer within 1.8734521 s": a deadline's remainder, rounded for people.
    return _SECONDS.sub(lambda m: f"{float(m.group(1)):.3g}", text)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
