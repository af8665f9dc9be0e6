"""Batch output: one JSON line per finished request, appended the moment it finishes.

Lines are in OpenAI's batch output shape: ``{"id", "custom_id", "response":
{"status_code", "request_id", "body": chat.completion} | null, "error": {"code",
"message"} | null}`` plus a ``"plugbay"`` member (provider, model, cost, cached).

``ResultWriter`` appends each line with one ``write`` system call on an unbuffered
file: once it returns the line is in the kernel's page cache, so it survives the
process being killed (``kill -9``) the next instant. Opening an existing output reads
back the ``custom_id`` of every line already there (a rerun skips them) and cuts a
torn last line, the one a crash left half written, so the next line starts clean.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plugbay.types import Completion

__all__ = ["ResultWriter", "error_line", "read_done", "success_line"]


def success_line(custom_id: str, completion: Completion, cost: float | None,
                 cached: bool) -> dict[str, Any]:
    from plugbay.openai_compat.encode import chat_completion_json

    request_id = completion.id
    return {"id": f"batch_req_{custom_id}", "custom_id": custom_id,
            "response": {"status_code": 200, "request_id": request_id,
                         "body": chat_completion_json(completion)},
            "error": None,
            "plugbay": {"provider": completion.provider, "model": completion.model,
                        "cost": cost, "cached": cached}}


def error_line(custom_id: str, exc: BaseException, model: str | None) -> dict[str, Any]:
    code = getattr(exc, "code", None) or type(exc).__name__
    status = getattr(exc, "status", None)
    return {"id": f"batch_req_{custom_id}", "custom_id": custom_id, "response": None,
            "error": {"code": str(code), "message": " ".join(str(exc).split()),
                      "status": status, "type": type(exc).__name__},
            "plugbay": {"provider": getattr(exc, "provider", None), "model": model,
                        "cost": 0.0, "cached": False}}


def read_done(path: Path) -> set[str]:
    """The ``custom_id`` of every whole line in ``path``; a torn last line is cut off."""
    done: set[str] = set()
    if not path.exists():
        return done
    with path.open("rb+") as fh:
        keep = 0  # bytes up to the end of the last whole line
        for raw in fh:
            if not raw.endswith(b"\n"):
                break  # the torn tail a crash left: cut below
            keep += len(raw)
            if not raw.strip():
                continue
            try:
                cid = json.loads(raw).get("custom_id")
            except (ValueError, AttributeError):
                continue  # not ours: left alone, never counted as done
            if isinstance(cid, str):
                done.add(cid)
        if fh.seek(0, os.SEEK_END) != keep:
            fh.truncate(keep)
    return done


class ResultWriter:
    """Appends result lines to ``path`` (created if absent), one write per line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done = read_done(path)  # ids already written by an earlier run
        self.written = 0
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, line: dict[str, Any]) -> None:
        data = (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        view = memoryview(data)
        while view:  # O_APPEND: a short write is rare, but the rest must follow it
            n = os.write(self._fd, view)
            view = view[n:]
        self.done.add(line["custom_id"])
        self.written += 1

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
