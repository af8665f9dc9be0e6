"""Security: no key in any answer or log line, no caller-chosen upstream URL, header or
credential, a cap on body size, and SQL metacharacters in key metadata kept literally."""

from __future__ import annotations

import pytest
from _gateway_support import MASTER, UPSTREAM_KEY, GatewayProcess, cli, openai_client

from plugbay.testing.server import FakeServer

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.timeout(90)

HI = [{"role": "user", "content": "hi"}]


def test_no_key_in_answers_or_logs(gateway: GatewayProcess, upstream: FakeServer) -> None:
    made = cli(gateway.config, "keys", "create")
    secret = made["key"]
    answers = []
    with openai_client(gateway, key=secret) as client:
        for model in ("openai/err-401", "openai/err-500", "openai/gpt-4o-mini", "bad/x"):
            try:
                answers.append(client.chat.completions.with_raw_response.create(
                    model=model, messages=HI).text)
            except openai.APIStatusError as exc:
                answers.append(exc.response.text)
                answers.append(str(dict(exc.response.headers)))
    assert any("upstream provider refused" in a for a in answers)
    for text in [*answers, gateway.logs()]:
        assert UPSTREAM_KEY not in text
        assert MASTER not in text
        # the secret part: pb-<id>-<secret>, where the secret itself may hold "-"
        assert secret.split("-", 2)[2] not in text
    assert upstream.last.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"


@pytest.mark.parametrize("field", ["base_url", "api_base", "api_key", "extra_headers",
                                   "headers", "provider"])
def test_no_upstream_url_or_credentials_from_the_body(gateway: GatewayProcess,
                                                     field: str) -> None:
    with openai_client(gateway) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI,
                                       extra_body={field: "http://169.254.169.254/"})
    assert caught.value.body["param"] == field


def test_caller_headers_are_not_forwarded(gateway: GatewayProcess, upstream: FakeServer) -> None:
    with openai_client(gateway) as client:
        client.chat.completions.create(
            model="openai/gpt-4o-mini", messages=HI,
            extra_headers={"x-upstream-url": "http://evil.example", "x-evil": "1",
                           "openai-organization": "org-caller", "host": "evil.example"})
    sent = upstream.last
    assert sent.headers.get("x-evil") is None and sent.headers.get("x-upstream-url") is None
    assert sent.headers.get("openai-organization") is None
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert sent.path == "/v1/chat/completions"


def test_oversized_body_is_413(gateway: GatewayProcess) -> None:
    big = "x" * (5 * 1024 * 1024)  # over the 4 MiB default of [gateway] max_body
    with openai_client(gateway) as client, pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="openai/gpt-4o-mini",
                                       messages=[{"role": "user", "content": big}])
    assert caught.value.status_code == 413
    assert "max_body" in caught.value.message


def test_sql_metacharacters_in_key_metadata_are_kept(gateway: GatewayProcess) -> None:
    nasty = "x'); DROP TABLE plugbay_keys; --\" OR 1=1"
    made = cli(gateway.config, "keys", "create", "--name", nasty, "--team", nasty,
               "--meta", f"note={nasty}")
    listed = {k["id"]: k for k in cli(gateway.config, "keys", "list")}
    got = listed[made["id"]]
    assert got["name"] == nasty and got["team"] == nasty and got["metadata"]["note"] == nasty
    with openai_client(gateway, key=made["key"]) as client:  # the table is still there
        assert client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI).choices
