"""The admin API, called directly (it is plain async code; the gateway mounts it and
tests it over HTTP): guarded by the master key, never showing a key after its
creation, with one JSON error naming what was wrong. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from plugbay.gateway.keys.admin import AdminAPI
from plugbay.gateway.keys.store import KeyStore

from .conftest import MASTER

AUTH = {"Authorization": f"Bearer {MASTER}"}


@pytest.fixture
async def api(store: KeyStore) -> AsyncIterator[AdminAPI]:
    yield AdminAPI(store, MASTER)


async def ask(api: AdminAPI, method: str, path: str, body: Any = None,
              headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode() if body else b""
    return await api.handle(method, path, AUTH if headers is None else headers, raw)


async def test_create_list_get_update_spend_revoke(api: AdminAPI) -> None:
    status, made = await ask(api, "POST", "/admin/keys",
                             {"name": "ci", "budget": 5, "period": "monthly", "rpm": 60,
                              "models": ["openai/*"], "expires": "30d", "team": "search",
                              "user": "ada", "metadata": {"ticket": "OPS-1"}})
    assert status == 201
    secret, key_id = made["key"], made["id"]
    assert secret.startswith(f"pb-{key_id}-") and made["prefix"] == f"pb-{key_id}"
    assert (made["budget"], made["period"], made["rpm"], made["team"]) == (5.0, "monthly",
                                                                           60, "search")
    status, listing = await ask(api, "GET", "/admin/keys")
    assert status == 200 and [k["id"] for k in listing["keys"]] == [key_id]
    status, one = await ask(api, "GET", f"/admin/keys/{key_id}")
    assert status == 200 and one["metadata"] == {"ticket": "OPS-1"}
    status, changed = await ask(api, "PATCH", f"/admin/keys/{key_id}",
                                {"budget": None, "models": None, "rpm": 0})
    assert status == 200
    assert (changed["budget"], changed["models"], changed["rpm"]) == (None, None, None)
    status, spend = await ask(api, "GET", f"/admin/keys/{key_id}/spend")
    assert status == 200 and spend["total"] == 0.0 and spend["id"] == key_id
    status, gone = await ask(api, "DELETE", f"/admin/keys/{key_id}")
    assert status == 200 and gone["revoked"] is not None
    assert (await ask(api, "GET", "/admin/keys"))[1]["keys"] == []
    status, everything = await ask(api, "GET", "/admin/keys?revoked=true")
    assert [k["id"] for k in everything["keys"]] == [key_id]
    for shown in (listing, one, changed, gone, everything, spend):  # only at creation
        assert secret not in json.dumps(shown) and "hash" not in json.dumps(shown)


@pytest.mark.parametrize("headers,status", [
    ({}, 401),
    ({"Authorization": "Bearer wrong-master-key-000000000"}, 401),
    ({"Authorization": MASTER}, 401),  # no "Bearer"
    ({"x-api-key": MASTER + " "}, 401),
    ({"AUTHORIZATION": f"bearer {MASTER}"}, 200),  # header names and scheme: any case
    ({"X-Api-Key": MASTER}, 200),
])
async def test_only_the_master_key_gets_in(api: AdminAPI, headers: dict[str, str],
                                           status: int) -> None:
    got, body = await ask(api, "GET", "/admin/keys", headers=headers)
    assert got == status
    if status != 200:
        assert body["error"]["type"] == "authentication_error"


async def test_a_virtual_key_is_forbidden(api: AdminAPI) -> None:
    _, made = await ask(api, "POST", "/admin/keys", {"name": "not admin"})
    status, body = await ask(api, "POST", "/admin/keys", {"name": "escalate"},
                             headers={"Authorization": f"Bearer {made['key']}"})
    assert status == 403 and body["error"]["type"] == "permission_error"
    assert len((await ask(api, "GET", "/admin/keys"))[1]["keys"]) == 1  # none made


@pytest.mark.parametrize("method,path,body,status,param", [
    ("POST", "/admin/keys", b"{not json", 400, None),
    ("POST", "/admin/keys", [1, 2], 400, None),
    ("POST", "/admin/keys", {"budget": "lots"}, 400, "budget"),
    ("POST", "/admin/keys", {"period": "weekly"}, 400, "period"),
    ("POST", "/admin/keys", {"expires": "soon"}, 400, "expires"),
    ("POST", "/admin/keys", {"models": "openai/*"}, 400, "models"),
    ("POST", "/admin/keys", {"is_admin": True}, 400, "is_admin"),
    ("POST", "/admin/keys", b"x" * 70_000, 413, None),
    ("GET", "/admin/keys/nosuchkey0", None, 404, "id"),
    ("DELETE", "/admin/keys/nosuchkey0", None, 404, "id"),
    ("GET", "/admin/keys/nosuchkey0/spend", None, 404, "id"),
    ("GET", "/admin/users", None, 404, None),
    ("PUT", "/admin/keys", None, 405, None),
])
async def test_bad_requests_get_one_clear_error(api: AdminAPI, method: str, path: str,
                                                body: Any, status: int, param: str | None,
                                                ) -> None:
    got, answer = await ask(api, method, path, body)
    assert got == status
    assert set(answer) == {"error"} and answer["error"]["message"]
    assert answer["error"]["param"] == param


async def test_sql_in_the_body_is_stored_literally(api: AdminAPI) -> None:
    nasty = "x'); DROP TABLE plugbay_keys; --"
    status, made = await ask(api, "POST", "/admin/keys",
                             {"name": nasty, "team": nasty, "metadata": {nasty: nasty}})
    assert status == 201
    status, one = await ask(api, "GET", f"/admin/keys/{made['id']}")
    assert (one["name"], one["team"], one["metadata"]) == (nasty, nasty, {nasty: nasty})
    status, _ = await ask(api, "GET", "/admin/keys/' OR '1'='1")
    assert status == 404


async def test_the_admin_api_logs_no_key(api: AdminAPI, caplog: pytest.LogCaptureFixture,
                                         ) -> None:
    caplog.set_level(logging.DEBUG)
    _, made = await ask(api, "POST", "/admin/keys", {"name": "quiet"})
    await ask(api, "GET", "/admin/keys", headers={"Authorization": f"Bearer {made['key']}"})
    await ask(api, "DELETE", f"/admin/keys/{made['id']}")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert made["prefix"] in text
    assert made["key"] not in text and MASTER not in text
