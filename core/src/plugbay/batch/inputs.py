"""Batch input: JSONL lines (or dicts) normalised to ``{"custom_id", "body"}``.

Two forms are read:

* OpenAI's batch input line: ``{"custom_id", "method": "POST", "url":
  "/v1/chat/completions", "body": {"model", "messages", ...}}``;
* a simpler one: ``{"custom_id", "model", "messages", ...params}``.

Either becomes ``{"custom_id": str, "body": {"model": ..., "messages": [...], ...}}``,
the shape the local runner and the provider batch jobs (``plugbay.batch.jobs``) take.
A line that cannot be read becomes a ``BadLine`` naming its line number and what was
wrong; the lines after it are still read. Reading is lazy: one line at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

__all__ = ["BadLine", "InputError", "normalise", "read_lines"]

# Endpoints the local runner can serve (a chat completion); others are named in the error.
CHAT_URLS = frozenset({"/v1/chat/completions", "/chat/completions", "v1/chat/completions"})
OPENAI_KEYS = frozenset({"custom_id", "method", "url", "body"})


class InputError(ValueError):
    """One input item is malformed; the message says what and how to fix it."""


@dataclass(frozen=True, slots=True)
class BadLine:
    """An input line that was skipped: its 1-based ``line`` number and why."""

    line: int
    reason: str
    custom_id: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def normalise(item: Mapping[str, Any], default_model: str | None = None) -> dict[str, Any]:
    """``item`` in either input form as ``{"custom_id", "body"}``, or ``InputError``."""
    if not isinstance(item, Mapping):
        raise InputError(f"expected a JSON object, got {type(item).__name__}")
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        raise InputError("no custom_id: give each request a unique non-empty string "
                         "custom_id")
    if "body" in item or "url" in item or "method" in item:
        unknown = set(item) - OPENAI_KEYS
        if unknown:
            raise InputError(f"unknown key(s) {', '.join(sorted(unknown))} beside 'body' "
                             "(the OpenAI batch form has custom_id, method, url, body)")
        method = str(item.get("method", "POST")).upper()
        url = str(item.get("url", "/v1/chat/completions"))
        if method != "POST" or url not in CHAT_URLS:
            raise InputError(f"{method} {url} is not supported: the batch runner sends chat "
                             "completions (POST /v1/chat/completions)")
        body = item.get("body")
        if not isinstance(body, Mapping):
            raise InputError("'body' must be a JSON object with model and messages")
        body = dict(body)
    else:
        body = {k: v for k, v in item.items() if k != "custom_id"}
    if not body.get("model"):
        if default_model is None:
            raise InputError("no model: give body.model (or model) as 'provider/model', "
                             "or a default with -m")
        body["model"] = default_model
    if not isinstance(body["model"], str):
        raise InputError("model must be a string such as 'openai/gpt-4o-mini'")
    for key in ("tags", "metadata"):
        if body.get(key) is not None and not isinstance(body[key], Mapping):
            raise InputError(f"'{key}' must be a JSON object of strings")
    messages = body.get("messages")
    if not isinstance(messages, (list, str)) or not messages:
        raise InputError("no messages: give a non-empty 'messages' list")
    return {"custom_id": custom_id, "body": body}


def read_lines(source: IO[str] | Iterable[str], default_model: str | None = None,
               ) -> Iterator[dict[str, Any] | BadLine]:
    """Each line of ``source`` normalised, or a ``BadLine``; blank lines are skipped.

    A ``custom_id`` repeated in the input is a ``BadLine`` on its second line (its result
    could not be told apart in the output)."""
    seen: set[str] = set()
    for n, text in enumerate(source, 1):
        if not text.strip():
            continue
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            yield BadLine(n, f"not JSON ({exc.msg} at column {exc.colno}); each line must be "
                          "one JSON object")
            continue
        try:
            item = normalise(raw, default_model)
        except InputError as exc:
            cid = raw.get("custom_id") if isinstance(raw, dict) else None
            yield BadLine(n, str(exc), cid if isinstance(cid, str) else None)
            continue
        cid = item["custom_id"]
        if cid in seen:
            yield BadLine(n, f"custom_id {cid!r} is repeated (an earlier line has it); "
                          "give each request its own", cid)
            continue
        seen.add(cid)
        yield item
