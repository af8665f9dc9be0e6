"""Virtual keys through a running gateway: created with `plugbay keys`, used through the
official SDKs, refused when forged, expired, revoked, out of budget or outside their
models, and their spend shown by `plugbay usage --by key`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from _gateway_support import GatewayProcess, anthropic_client, cli, openai_client

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.timeout(90)

HI = [{"role": "user", "content": "hi"}]


def new_key(gw: GatewayProcess, *args: str) -> tuple[str, str]:
    made = cli(gw.config, "keys", "create", *args)
    return made["id"], made["key"]


def test_a_key_is_used_and_its_spend_shown(gateway: GatewayProcess) -> None:
    key_id, secret = new_key(gateway, "--team", "search")
    with openai_client(gateway, key=secret) as client:
        for _ in range(3):
            client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI)
    row: dict[str, object] = {}
    for _ in range(100):  # the ledger writer commits in the background
        rows = {r["key"]: r for r in cli(gateway.config, "usage", "--by", "key")}
        row = rows.get(key_id, {})
        if row.get("calls") == 3:
            break
        time.sleep(0.05)
    assert row["calls"] == 3 and row["input_tokens"] == 33
    assert isinstance(row["cost"], float) and row["cost"] > 0


def test_a_key_outside_its_models_is_403(gateway: GatewayProcess) -> None:
    _, secret = new_key(gateway, "--model", "smart")
    with openai_client(gateway, key=secret) as client:
        with pytest.raises(openai.PermissionDeniedError):
            client.chat.completions.create(model="openai/gpt-4o", messages=HI)
        assert client.chat.completions.create(model="smart", messages=HI).choices
        assert {m.id for m in client.models.list()} == {"smart"}
    anthropic = pytest.importorskip("anthropic")
    with anthropic_client(gateway, key=secret) as client, \
            pytest.raises(anthropic.PermissionDeniedError):
        client.messages.create(model="openai/gpt-4o", max_tokens=5, messages=HI)


def test_forged_expired_and_revoked_keys_are_401(gateway: GatewayProcess) -> None:
    key_id, secret = new_key(gateway)
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    with openai_client(gateway, key=forged) as client, \
            pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI)
    with openai_client(gateway, key=secret) as client:
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI)
        cli(gateway.config, "keys", "revoke", key_id)
        time.sleep(1.0)  # a revocation reaches every worker within 1 s
        for _ in range(6):  # several calls: both workers answer some
            with pytest.raises(openai.AuthenticationError):
                client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI)
    key_id, secret = new_key(gateway)
    cli(gateway.config, "keys", "update", key_id, "--expires", "2020-01-01")
    time.sleep(1.0)
    with openai_client(gateway, key=secret) as client, \
            pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI)
    assert "expired" in caught.value.message


def test_a_budget_runs_out_with_429(gateway: GatewayProcess) -> None:
    # with max_tokens=5 one call costs 11 x 0.15 + 5 x 0.6 = 4.65 micro-USD (gpt-4o-mini)
    _, secret = new_key(gateway, "--budget", "0.00002")
    done, refused = 0, None
    with openai_client(gateway, key=secret) as client:
        for _ in range(10):
            try:
                client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI,
                                               max_tokens=5)
                done += 1
            except openai.RateLimitError as exc:
                refused = exc
                break
    assert refused is not None and "budget" in refused.message
    assert 1 <= done <= 5  # 20 micro-USD allows four calls, and at most one estimate more


def test_a_spent_daily_budget_is_429_with_retry_after_on_both_surfaces(
        own_gateway: Any, tmp_path: Path) -> None:
    """One worker: without ``[state] backend = "redis"`` each worker keeps its own budget
    counter, and the two SDKs' connections could reach different workers."""
    anthropic = pytest.importorskip("anthropic")
    gateway = own_gateway(f'[ledger]\npath = "{tmp_path / "ledger.db"}"\n', workers=1)
    _, secret = new_key(gateway, "--budget", "0.00002", "--period", "daily")
    with openai_client(gateway, key=secret) as client:
        for _ in range(10):
            try:
                client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI,
                                               max_tokens=5)
            except openai.RateLimitError as exc:
                refused = exc
                break
        else:
            pytest.fail("the daily budget never ran out")
    with anthropic_client(gateway, key=secret) as client, \
            pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="openai/gpt-4o-mini", max_tokens=5, messages=HI)
    until_midnight = 86400 - time.time() % 86400  # the day turns at 00:00 UTC
    for answer in (refused.response, caught.value.response):
        assert answer.status_code == 429 and "budget" in answer.text
        assert abs(int(answer.headers["retry-after"]) - until_midnight) < 30


def test_callers_cannot_set_the_key_tag(gateway: GatewayProcess) -> None:
    key_id, secret = new_key(gateway)
    other_id, _ = new_key(gateway)
    with openai_client(gateway, key=secret) as client:
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=HI,
                                       metadata={"key": other_id, "job": "x"})
    for _ in range(100):
        rows = {r["key"]: r for r in cli(gateway.config, "usage", "--by", "key")}
        if key_id in rows:
            break
        time.sleep(0.05)
    assert rows[key_id]["calls"] == 1 and other_id not in rows
