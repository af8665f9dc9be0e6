"""Test-side AWS fakes: an event stream encoder and an independent SigV4 checker.

Both are written from the AWS specifications with hashlib/hmac/zlib only, so they check
the plugin (which uses botocore's signer and its own decoder) rather than repeat it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import struct
import uuid
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

import plugbay
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest

PAD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"  # the random padding field "p" real streams carry

# ------------------------------------------------------------------ event stream


def _header(name: str, value: Any) -> bytes:
    raw = name.encode()
    out = bytes([len(raw)]) + raw
    if isinstance(value, bool):
        return out + bytes([0 if value else 1])
    if isinstance(value, tuple):  # (type, value) for the numeric and timestamp types
        kind, number = value
        fmt = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}[kind]
        return out + bytes([kind]) + struct.pack(fmt, number)
    if isinstance(value, uuid.UUID):
        return out + b"\x09" + value.bytes
    if isinstance(value, bytes):
        return out + b"\x06" + struct.pack(">H", len(value)) + value
    data = str(value).encode()
    return out + b"\x07" + struct.pack(">H", len(data)) + data


def frame(headers: dict[str, Any], payload: bytes) -> bytes:
    """One event stream message with correct lengths and both CRC32s."""
    block = b"".join(_header(k, v) for k, v in headers.items())
    total = 12 + len(block) + len(payload) + 4
    prelude = struct.pack(">II", total, len(block))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + block + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(kind: str, body: dict[str, Any], *, pad: bool = True) -> bytes:
    data = dict(body, p=PAD[: 5 + len(kind) % 20]) if pad else body
    return frame({":event-type": kind, ":content-type": "application/json",
                  ":message-type": "event"}, json.dumps(data).encode())


def exception(kind: str, message: str) -> bytes:
    return frame({":exception-type": kind, ":content-type": "application/json",
                  ":message-type": "exception"}, json.dumps({"message": message}).encode())


def text_stream(pieces: list[str], *, stop: str = "end_turn",
                usage: dict[str, int] | None = None) -> list[bytes]:
    usage = usage or {"inputTokens": 10, "outputTokens": len(pieces), "totalTokens": 0}
    frames = [event("messageStart", {"role": "assistant"})]
    frames += [event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": p}})
               for p in pieces]
    frames += [event("contentBlockStop", {"contentBlockIndex": 0}),
               event("messageStop", {"stopReason": stop}),
               event("metadata", {"usage": usage, "metrics": {"latencyMs": 321}})]
    return frames


def split(frames: list[bytes], sizes: tuple[int, ...] = (1, 3, 7, 13)) -> list[bytes]:
    """The same bytes re-chunked at awkward boundaries (inside preludes, headers, CRCs)."""
    data, out, i, n = b"".join(frames), [], 0, 0
    while i < len(data):
        size = sizes[n % len(sizes)]
        out.append(data[i:i + size])
        i, n = i + size, n + 1
    return out


# ------------------------------------------------------------------ SigV4 verification

_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,"
                   r"\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _canonical_query(target: str) -> str:
    query = target.partition("?")[2]
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        key, _, value = item.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def expected_signature(req: RecordedRequest, secret: str, scope: str, signed: str) -> str:
    """Recompute the signature from the request as received (AWS SigV4, non-S3 rules:
    the already-encoded path is URI-encoded once more)."""
    names = signed.split(";")
    headers = "".join(f"{n}:{' '.join(req.headers.get(n, '').split())}\n" for n in names)
    payload = req.headers.get("x-amz-content-sha256") or hashlib.sha256(req.body).hexdigest()
    canonical = "\n".join([req.method, quote(req.path, safe="/-_.~"), _canonical_query(req.url),
                           headers, signed, payload])
    amz_date = req.headers.get("x-amz-date", "")
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    date, region, service, _ = scope.split("/")
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def check_sigv4(req: RecordedRequest, keys: dict[str, str], *, region: str,
                service: str = "bedrock", token: str | None = None) -> str | None:
    """``None`` when ``req`` is validly signed by one of ``keys`` (access key -> secret),
    else the reason it is not."""
    match = _AUTH.match(req.headers.get("authorization", ""))
    if not match:
        return "missing or malformed SigV4 Authorization header"
    access, date, got_region, got_service, signed, signature = match.groups()
    if access not in keys:
        return f"unknown access key {access}"
    if (got_region, got_service) != (region, service):
        return f"scope {got_region}/{got_service} is not {region}/{service}"
    amz_date = req.headers.get("x-amz-date", "")
    if not amz_date.startswith(date):
        return "x-amz-date does not match the credential scope date"
    when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    if abs((dt.datetime.now(dt.timezone.utc) - when).total_seconds()) > 300:
        return "request time too skewed"
    names = signed.split(";")
    if "host" not in names or "x-amz-date" not in names:
        return "host and x-amz-date must be signed"
    if token is not None and (req.headers.get("x-amz-security-token") != token
                              or "x-amz-security-token" not in names):
        return "session token missing or unsigned"
    scope = f"{date}/{region}/{service}/aws4_request"
    if not hmac.compare_digest(expected_signature(req, keys[access], scope, signed), signature):
        return "The request signature we calculated does not match the signature you provided"
    return None


def aws_error(kind: str, message: str, status: int) -> Reply:
    return Reply.json({"message": message}, status=status, headers={
        "x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "x-amzn-RequestId": "11111111-2222-3333-4444-555555555555"})


def signed(reply: Reply | Callable[[RecordedRequest], Reply], keys: dict[str, str], *,
           region: str, token: str | None = None, service: str = "bedrock",
           ) -> Callable[[RecordedRequest], Reply]:
    """A route handler that answers 403 InvalidSignatureException unless the request is
    signed correctly, and ``reply`` otherwise."""
    def handle(req: RecordedRequest) -> Reply:
        problem = check_sigv4(req, keys, region=region, service=service, token=token)
        if problem is not None:
            return aws_error("InvalidSignatureException", problem, 403)
        return reply(req) if callable(reply) else reply
    return handle


# ------------------------------------------------------------------ clients and bodies

# AWS's documented example credentials (SigV4 test suite and docs): not a secret
AK, SK = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
WORK_AK, WORK_SK, WORK_TOKEN = "AKIAWORKPROFILE00001", "work/secret+key", "IQoJb3JpZ2luX2VjEWORK"
MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
CONVERSE = re.compile(r"/model/[^/]+/converse")
STREAM = re.compile(r"/model/[^/]+/converse-stream")


def converse_body(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn", "metrics": {"latencyMs": 42},
            "usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4}, **extra}


def make(server: FakeServer, env: dict[str, str] | None = None, **options: Any) -> plugbay.Client:
    table = {"base_url": server.url, "control_base_url": server.url, **options}
    return plugbay.Client({"providers": {"bedrock": table}}, env=env or {})


def static(server: FakeServer, **options: Any) -> plugbay.Client:
    return make(server, aws_access_key_id=AK, aws_secret_access_key=SK, region="us-east-1",
                **options)


async def collect(client: plugbay.Client, **kw: Any) -> tuple[list[Any], Any]:
    events = []
    async with client.astream(f"bedrock/{MODEL}", "hi", **kw) as stream:
        async for item in stream:
            events.append(item)
    return events, stream.completion


def sts_reply(key: str, secret: str, token: str, expires: dt.datetime) -> Reply:
    xml = f"""<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>
      <SessionToken>{token}</SessionToken>
      <Expiration>{expires.strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration></Credentials>
    <AssumedRoleUser><AssumedRoleId>AROAFAKE:plugbay</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/bedrock/plugbay</Arn></AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>sts-1</RequestId></ResponseMetadata>
</AssumeRoleResponse>"""
    return Reply.text(xml, "text/xml")
