"""Streamed function-call arguments (``toolConfig.functionCallingConfig
.streamFunctionCallArguments``), folded back into whole calls. Pure.

With the mode on, one call arrives over several ``functionCall`` parts: the first has the
``name`` (and ``id``, maybe ``args``) and ``willContinue: true``; the next carry
``partialArgs``, each a ``jsonPath`` (RFC 9535, e.g. ``$.stops[0].name``) and one of
``stringValue`` / ``numberValue`` / ``boolValue`` / ``nullValue``. A string may come in
pieces: a fragment with ``willContinue: true`` says the next one for the same path is
appended. The call ends at a part without ``willContinue`` (often ``functionCall: {}``).

``PartialCall(fc, index, part_index).apply(fc)`` folds one part in; ``open`` says whether
more parts belong to it; ``args`` is the assembled object.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["PartialCall", "parse_path", "streams_args"]

# .name | [0] | ['quoted'] | ["quoted"] (RFC 9535 segments a function's arguments use)
_SEGMENT = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]"
                      r"""|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]""")
_MISSING = object()


def streams_args(fc: dict[str, Any]) -> bool:
    """Whether a ``functionCall`` part belongs to a call whose arguments are streamed."""
    return bool(fc.get("willContinue")) or "partialArgs" in fc


def parse_path(path: str) -> list[str | int]:
    """``$.a[0]['b.c']`` -> ``["a", 0, "b.c"]``; a bare ``a.b`` is taken as ``$.a.b``."""
    text = path.strip()
    rest = text[1:] if text.startswith("$") else "." + text
    keys: list[str | int] = []
    pos = 0
    while pos < len(rest):
        m = _SEGMENT.match(rest, pos)
        if m is None:
            raise ValueError(f"unsupported JSON path {path!r}")
        name, index, single, double = m.groups()
        if index is not None:
            keys.append(int(index))
        else:
            quoted = single if single is not None else double
            keys.append(name if quoted is None else re.sub(r"\\(.)", r"\1", quoted))
        pos = m.end()
    return keys


def _value(arg: dict[str, Any]) -> Any:
    for field in ("stringValue", "numberValue", "boolValue"):
        if field in arg:
            return arg[field]
    return None if "nullValue" in arg else _MISSING


def _set(root: dict[str, Any], keys: list[str | int], value: Any, append: bool) -> None:
    """Put ``value`` at ``keys`` under ``root``, making objects and lists on the way."""
    node: Any = root
    for depth, key in enumerate(keys):
        if isinstance(key, int):
            if not isinstance(node, list):
                raise ValueError(f"index [{key}] into a non-list")
            node.extend([None] * (key + 1 - len(node)))
            current = node[key]
        else:
            if not isinstance(node, dict):
                raise ValueError(f"key {key!r} into a non-object")
            current = node.get(key)
        if depth == len(keys) - 1:
            if append and isinstance(current, str) and isinstance(value, str):
                value = current + value
            node[key] = value
            return
        if current is None:
            current = node[key] = [] if isinstance(keys[depth + 1], int) else {}
        node = current


class PartialCall:
    """One call whose arguments arrive in pieces."""

    def __init__(self, fc: dict[str, Any], index: int, part_index: int) -> None:
        self.name: str = fc.get("name") or ""
        self.id: str | None = fc.get("id")
        self.index = index  # the plugbay tool-call index
        self.part_index = part_index  # where its whole part goes in the kept parts
        self.args: dict[str, Any] = dict(fc["args"]) if isinstance(fc.get("args"), dict) else {}
        self.signature: str | None = None
        self.open = True
        self._continues: set[str] = set()  # paths whose next string piece is appended

    def continues(self, fc: dict[str, Any]) -> bool:
        """Whether part ``fc`` carries more of this call (rather than starting another)."""
        if not self.open:
            return False
        return (not fc.get("name") or fc["name"] == self.name) and \
            (not fc.get("id") or not self.id or fc["id"] == self.id)

    def apply(self, fc: dict[str, Any]) -> None:
        if isinstance(fc.get("args"), dict):
            self.args.update(fc["args"])
        for arg in fc.get("partialArgs") or ():
            if not isinstance(arg, dict) or not isinstance(arg.get("jsonPath"), str):
                continue
            path, value = arg["jsonPath"], _value(arg)
            if value is not _MISSING:
                _set(self.args, parse_path(path), value, append=path in self._continues)
            if arg.get("willContinue"):
                self._continues.add(path)
            else:
                self._continues.discard(path)
        # Done when neither the call nor a string piece says more follows.
        self.open = bool(fc.get("willContinue")) or bool(self._continues)

    def part(self, first: dict[str, Any]) -> dict[str, Any]:
        """The whole part as the API would have sent it, to echo back on the next turn."""
        call: dict[str, Any] = {"name": self.name, "args": self.args}
        if self.id:
            call["id"] = self.id
        whole = {k: v for k, v in first.items() if k != "functionCall"}
        if self.signature and "thoughtSignature" not in whole:
            whole["thoughtSignature"] = self.signature
        return {**whole, "functionCall": call}
