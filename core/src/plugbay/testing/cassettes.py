"""Replay recorded provider traffic (vcrpy cassettes) through the fake server.

Cassettes are read in place (``../shared/corpus`` in this repository). Both
vcrpy layouts are understood: the default (``response.body.string``, gzip
bodies stored as ``!!binary``) and the httpx legacy one (``response.content``).
Recorded bodies are served byte for byte with their ``Content-Encoding``, so a
gzip-compressed SSE recording exercises the client's incremental gunzip.
Needs PyYAML (a test dependency, imported on use).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from plugbay.testing.replies import Reply

if TYPE_CHECKING:
    from plugbay.types import Message

__all__ = ["Interaction", "corpus_dir", "load_cassette", "reply_for", "responses_messages",
           "responses_truth"]

_DROP = {"content-length", "transfer-encoding", "connection", "keep-alive"}


@dataclass
class Interaction:
    method: str
    uri: str
    request_body: bytes
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    request_headers: dict[str, list[str]] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return urlsplit(self.uri).path

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def decoded_body(self) -> bytes:
        """The body with any gzip/deflate encoding removed."""
        import zlib

        if (self.header("content-encoding") or "").lower() in ("gzip", "deflate"):
            try:
                return zlib.decompress(self.body, 47)
            except zlib.error:  # some recorders store the body already decoded
                return self.body
        return self.body

    def request_json(self) -> Any:
        import json

        return json.loads(self.request_body) if self.request_body else None


def corpus_dir(start: Path | None = None) -> Path | None:
    """``../shared/corpus`` beside the repository root (found from the working directory or
    this file), or ``PLUGBAY_CORPUS``; ``None`` when absent, so replay tests skip."""
    if os.environ.get("PLUGBAY_CORPUS"):
        path = Path(os.environ["PLUGBAY_CORPUS"])
        return path if path.is_dir() else None
    here = (start or Path.cwd()).resolve()
    for parent in [here, *here.parents, *Path(__file__).resolve().parents]:
        candidate = parent.parent / "shared" / "corpus"
        if (parent / "pyproject.toml").is_file() and candidate.is_dir():
            return candidate
    return None


def _bytes(value: Any) -> bytes:
    if value is None:
        return b""
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def load_cassette(path: Path) -> list[Interaction]:
    import yaml

    data = yaml.safe_load(path.read_text("utf-8"))
    out: list[Interaction] = []
    for item in data.get("interactions", []):
        req, resp = item["request"], item["response"]
        body = resp.get("body")
        raw = body.get("string") if isinstance(body, dict) else resp.get("content", body)
        status = resp.get("status")
        code = (status.get("code") if isinstance(status, dict) else None) or resp.get(
            "status_code") or 200
        headers = [(k, v) for k, vs in (resp.get("headers") or {}).items()
                   for v in (vs if isinstance(vs, list) else [vs])]
        req_body = req.get("body")
        if isinstance(req_body, dict):
            req_body = req_body.get("string")
        out.append(Interaction(req["method"], req["uri"], _bytes(req_body), int(code or 200),
                               headers, _bytes(raw), req.get("headers") or {}))
    return out


def reply_for(interaction: Interaction) -> Reply:
    """The recorded response as a ``Reply``: same status, headers and (encoded) bytes."""
    drop = set(_DROP)
    if interaction.decoded_body() is interaction.body:  # stored decoded: don't claim gzip
        drop.add("content-encoding")
    headers = [(k, v) for k, v in interaction.headers if k.lower() not in drop]
    content_type = interaction.header("content-type") or "application/octet-stream"
    headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
    return Reply.raw(interaction.body, status=interaction.status, content_type=content_type,
                     headers=headers)


# ------------------------------------------------------------------ Responses recordings


def responses_messages(items: list[dict[str, Any]]) -> list[Message]:
    """A recorded Responses ``input`` as plugbay messages (to send the same conversation)."""
    from plugbay.types import Message, ToolCall

    out: list[Message] = []
    for item in items:
        if item.get("type") == "function_call":
            call = ToolCall(id=item["call_id"], name=item["name"], arguments=item["arguments"])
            if out and out[-1].role == "assistant" and out[-1].content is None:
                out[-1].tool_calls = [*(out[-1].tool_calls or []), call]
            else:
                out.append(Message.assistant(None, [call]))
        elif item.get("type") == "function_call_output":
            out.append(Message.tool(item["call_id"], item["output"]))
        else:
            out.append(Message(role=item["role"], content=item["content"]))
    return out


def responses_truth(item: Interaction) -> tuple[str, list[tuple[str, Any]], dict[str, Any]]:
    """(text, [(tool name, parsed arguments)], usage) read straight from a recorded
    Responses body, JSON or SSE, without plugbay's Responses codec: what a replay must produce."""
    import json

    from plugbay.http.sse import SSEDecoder

    raw = item.decoded_body()
    if raw.lstrip().startswith(b"{"):
        final = json.loads(raw)
        text = "".join(p["text"] for o in final["output"] if o["type"] == "message"
                       for p in o["content"] if p["type"] == "output_text")
    else:
        events = [json.loads(e.data) for e in SSEDecoder().feed(raw + b"\n\n")]
        text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
        final = next(e["response"] for e in events if e["type"] == "response.completed")
    calls = [(o["name"], json.loads(o["arguments"])) for o in final["output"]
             if o["type"] == "function_call"]
    return text, calls, final["usage"]
