"""``plugbay keys create|list|update|revoke``: the gateway's virtual keys, from the shell.

The keys live in the config's ledger database; ``PLUGBAY_MASTER_KEY`` (or
``PLUGBAY_KEYS_SECRET``) must be set, as for the gateway. A created key is printed
once and never again. Errors are one line and exit status 2 (``cli.main``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from plugbay.gateway.keys.record import VirtualKey
    from plugbay.gateway.keys.store import KeyStore

__all__ = ["add_parser"]


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    """The key fields the options set (an update changes only these)."""
    from plugbay.errors import ConfigError

    out: dict[str, Any] = {}
    for name in ("name", "budget", "period", "rpm", "tpm", "expires", "team", "user"):
        value = getattr(args, name, None)
        if value is not None:
            out[name] = value
    if args.model:
        out["models"] = args.model
    if getattr(args, "all_models", False):
        out["models"] = None
    if getattr(args, "no_budget", False):
        out["budget"] = None
    if getattr(args, "no_expiry", False):
        out["expires"] = None
    if args.meta:
        meta = {}
        for item in args.meta:
            k, sep, v = item.partition("=")
            if not sep or not k:
                raise ConfigError(f"{item!r}: use --meta key=value", key="--meta")
            meta[k] = v
        out["metadata"] = meta
    return out


def _run(args: argparse.Namespace, out: TextIO,
         fn: Callable[[KeyStore], Awaitable[int]]) -> int:
    from plugbay.config import load_config
    from plugbay.gateway.keys.store import open_store

    env = dict(os.environ)
    sections = load_config(args.config, env).model_extra or {}

    async def go() -> int:
        store = open_store(sections, env, master=False)
        try:
            return await fn(store)
        finally:
            await store.aclose()
    return asyncio.run(go())


def _row(key: VirtualKey) -> list[str]:
    p = key.public()
    budget = f"{key.budget:g}/{key.period}" if key.budget is not None else "-"
    limits = "/".join(str(x or "-") for x in (key.rpm, key.tpm))
    state = "revoked" if key.revoked else ("expires " + p["expires"] if p["expires"] else "")
    return [key.prefix, key.name or "-", key.team or "-", key.user or "-", budget, limits,
            ",".join(key.models) if key.models is not None else "*", state]


def _table(keys: list[VirtualKey], out: TextIO) -> None:
    rows = [["KEY", "NAME", "TEAM", "USER", "BUDGET $", "RPM/TPM", "MODELS", "STATE"]]
    rows += [_row(k) for k in keys]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def _missing(key_id: str) -> Exception:
    from plugbay.errors import ConfigError

    return ConfigError(f"no virtual key {key_id!r} (see `plugbay keys list --all`)",
                       key="id")


def _bare(key_id: str) -> str:
    """Accept the id or the printed prefix (``pb-<id>``)."""
    return key_id[3:] if key_id.startswith("pb-") else key_id


def cmd_create(args: argparse.Namespace, out: TextIO) -> int:
    async def go(store: KeyStore) -> int:
        key, secret = await store.create(**_fields(args))
        if args.json:
            out.write(json.dumps({**key.public(), "key": secret}, indent=2) + "\n")
        else:
            out.write(f"{secret}\n")
            out.write(f"created {key.prefix}: store the key now, it cannot be shown again\n")
        return 0
    return _run(args, out, go)


def cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    async def go(store: KeyStore) -> int:
        keys = await store.list(revoked=args.all)
        if args.json:
            out.write(json.dumps([k.public() for k in keys], indent=2) + "\n")
        elif keys:
            _table(keys, out)
        else:
            out.write("no virtual keys (create one: plugbay keys create --name NAME)\n")
        return 0
    return _run(args, out, go)


def cmd_update(args: argparse.Namespace, out: TextIO) -> int:
    async def go(store: KeyStore) -> int:
        fields = _fields(args)
        if not fields:
            from plugbay.errors import ConfigError

            raise ConfigError("nothing to change: give an option such as --budget",
                              key="update")
        key = await store.update(_bare(args.id), **fields)
        if key is None:
            raise _missing(args.id)
        return _changed(args, out, key, "updated")
    return _run(args, out, go)


def cmd_revoke(args: argparse.Namespace, out: TextIO) -> int:
    async def go(store: KeyStore) -> int:
        key = await store.revoke(_bare(args.id))
        if key is None:
            raise _missing(args.id)
        return _changed(args, out, key, "revoked")
    return _run(args, out, go)


def _changed(args: argparse.Namespace, out: TextIO, key: VirtualKey, verb: str) -> int:
    """The changed key as JSON (``--json``), else one line."""
    out.write(json.dumps(key.public(), indent=2) + "\n" if args.json
              else f"{verb} {key.prefix}\n")
    return 0


def _options(p: argparse.ArgumentParser, update: bool) -> None:
    p.add_argument("--name", help="a label for people")
    p.add_argument("--budget", type=float, help="USD per --period")
    p.add_argument("--period", choices=("daily", "monthly", "total"),
                   help="what the budget counts over (default: total)")
    p.add_argument("--rpm", type=int, help="requests per minute (0: no limit)")
    p.add_argument("--tpm", type=int, help="tokens per minute (0: no limit)")
    p.add_argument("--model", action="append", metavar="GLOB",
                   help="an allowed model or route, globs allowed (repeat; default: all)")
    p.add_argument("--expires", help="30d, 12h, 2w, 2027-01-31 or 2027-01-31T12:00 (UTC)")
    p.add_argument("--team")
    p.add_argument("--user")
    p.add_argument("--meta", action="append", metavar="KEY=VALUE", help="free-form metadata")
    p.add_argument("--json", action="store_true")
    if update:
        p.add_argument("--all-models", action="store_true", help="allow every model again")
        p.add_argument("--no-budget", action="store_true", help="remove the budget")
        p.add_argument("--no-expiry", action="store_true", help="never expire")


def add_parser(sub: Any) -> None:
    """Add ``keys`` and its subcommands to the ``plugbay`` command."""
    keys = sub.add_parser("keys", help="the gateway's virtual keys: create, list, update, "
                                       "revoke")
    ks = keys.add_subparsers(dest="keys_command", required=True)
    p = ks.add_parser("create", help="create a key (printed once)")
    _options(p, update=False)
    p.set_defaults(func=cmd_create)
    p = ks.add_parser("list", help="list keys (never their secrets)")
    p.add_argument("--all", action="store_true", help="include revoked keys")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = ks.add_parser("update", help="change a key's budget, limits, models, expiry...")
    p.add_argument("id", help="the key's id or prefix (pb-<id>)")
    _options(p, update=True)
    p.set_defaults(func=cmd_update)
    p = ks.add_parser("revoke", help="revoke a key everywhere (within a second)")
    p.add_argument("id", help="the key's id or prefix (pb-<id>)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_revoke)
