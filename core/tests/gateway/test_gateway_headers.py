"""Response headers on every answer: the request id (``x-request-id``, and Anthropic's
``request-id``) on successes, errors, streams and ops URLs; CORS headers only when
``[gateway] cors_origins`` allows the caller's Origin.

Ops URLs and the CORS preflight go through the SDK's own HTTP client (``client.get`` of
an absolute URL, as the ops tests do; for OPTIONS, which the SDK has no verb for, its
one general entry point ``client.request`` with a ``FinalRequestOptions``)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from _gateway_support import GatewayProcess, anthropic_client, openai_client

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")
pytestmark = pytest.mark.timeout(90)

HI = [{"role": "user", "content": "hi"}]
RID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
APP = "https://app.example.com"


def rid_of(headers: httpx.Headers) -> str:
    rid = headers.get("x-request-id", "")
    assert RID.match(rid), dict(headers)
    return rid


def test_request_id_on_errors(gateway: GatewayProcess) -> None:
    with openai_client(gateway) as client:
        with pytest.raises(openai.NotFoundError) as missing:
            client.chat.completions.create(model="nosuch/model", messages=HI)
        with pytest.raises(openai.APIStatusError) as large:
            client.chat.completions.create(model="openai/gpt-4o-mini", messages=[
                {"role": "user", "content": "x" * (4 * 1024 * 1024 + 1)}])
    assert large.value.status_code == 413
    first, second = rid_of(missing.value.response.headers), rid_of(large.value.response.headers)
    assert first != second  # one per request
    assert missing.value.request_id == first  # what the SDK reports is the same id


def test_request_id_on_a_stream_and_health(gateway: GatewayProcess) -> None:
    with openai_client(gateway) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="openai/gpt-4o-mini", messages=HI, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in raw.parse()
                       if c.choices) == "Hello from upstream"
        health = client.get(gateway.url + "/health", cast_to=httpx.Response)
    assert rid_of(raw.headers) != rid_of(health.headers)


def test_request_id_on_anthropic_messages(gateway: GatewayProcess) -> None:
    with anthropic_client(gateway) as client:
        raw = client.messages.with_raw_response.create(
            model="openai/gpt-4o-mini", max_tokens=10, messages=HI)
        msg = raw.parse()
        with pytest.raises(anthropic.NotFoundError) as missing:
            client.messages.create(model="nosuch/model", max_tokens=10, messages=HI)
        echoed = client.messages.with_raw_response.create(
            model="openai/gpt-4o-mini", max_tokens=10, messages=HI,
            extra_headers={"x-request-id": "trace-ant-7"})
    assert RID.match(raw.headers["request-id"]) and msg._request_id == raw.headers["request-id"]
    assert RID.match(missing.value.response.headers["request-id"])
    assert missing.value.request_id == missing.value.response.headers["request-id"]
    assert echoed.headers["request-id"] == "trace-ant-7"


@pytest.mark.parametrize(("given", "echoed"), [
    ("trace-42.a_b", True),
    ("has space", False),
    ("x" * 65, False),
    ("<script>", False),
])
def test_a_sane_caller_request_id_is_echoed(gateway: GatewayProcess, given: str,
                                            echoed: bool) -> None:
    with openai_client(gateway) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="openai/gpt-4o-mini", messages=HI, extra_headers={"x-request-id": given})
    assert (rid_of(raw.headers) == given) is echoed


# ------------------------------------------------------------------ CORS

def cors_headers(headers: httpx.Headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower().startswith("access-control-")}


def preflight(client: Any, gw: GatewayProcess, origin: str) -> httpx.Response:
    from openai._models import FinalRequestOptions

    options = FinalRequestOptions.construct(
        method="options", url=gw.url + "/v1/chat/completions",
        headers={"origin": origin, "access-control-request-method": "POST",
                 "access-control-request-headers": "authorization, content-type"})
    response: httpx.Response = client.request(httpx.Response, options)
    return response


def test_no_cors_headers_by_default(gateway: GatewayProcess) -> None:
    with openai_client(gateway) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="openai/gpt-4o-mini", messages=HI, extra_headers={"origin": APP})
    assert cors_headers(raw.headers) == {}


def test_cors_for_an_allowed_origin_only(own_gateway: Any) -> None:
    gw = own_gateway(f'[gateway]\ncors_origins = ["{APP}"]\n')
    with openai_client(gw) as client:
        allowed = client.chat.completions.with_raw_response.create(
            model="openai/gpt-4o-mini", messages=HI, extra_headers={"origin": APP})
        foreign = client.chat.completions.with_raw_response.create(
            model="openai/gpt-4o-mini", messages=HI,
            extra_headers={"origin": "https://evil.example.net"})
        ok_preflight = preflight(client, gw, APP)
        bad_preflight = preflight(client, gw, "https://evil.example.net")
    cors = cors_headers(allowed.headers)
    assert cors["access-control-allow-origin"] == APP
    assert "authorization" in cors["access-control-allow-headers"]
    assert "origin" in allowed.headers["vary"].lower()
    assert ok_preflight.status_code == 204
    assert cors_headers(ok_preflight.headers)["access-control-allow-origin"] == APP
    assert "POST" in ok_preflight.headers["access-control-allow-methods"]
    assert cors_headers(foreign.headers) == {}
    assert cors_headers(bad_preflight.headers) == {}
