"""Keys are stored only as a keyed hash, verified in constant time, and refused when
forged, expired, revoked or outside their model list; metadata full of SQL is stored
as written. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import pytest

from plugbay import errors
from plugbay.gateway.keys.secret import KeyHasher
from plugbay.gateway.keys.store import KeyStore

from .conftest import ENV, MASTER

NASTY = ["'; DROP TABLE plugbay_keys; --", "\" OR 1=1 --", "x' OR '1'='1",
         "%_\\ ; /* */ $1 ?", "Robert'); DELETE FROM calls;--", "ünïcødé ✓"]


def raw_rows(store: KeyStore) -> list[tuple[Any, ...]]:
    """Every column of every key row, read on a connection of the test's own."""
    url = store.db.url
    if url.startswith("sqlite"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(url.partition(":///")[2])) as conn:
            return [tuple(r) for r in conn.execute("SELECT * FROM plugbay_keys")]
    import psycopg

    with psycopg.connect(url) as conn:
        return [tuple(r) for r in conn.execute("SELECT * FROM plugbay_keys").fetchall()]


async def test_a_created_key_authenticates_as_its_principal(store: KeyStore) -> None:
    key, secret = await store.create(name="ci", team="search", user="ada",
                                     models=["openai/*", "fast"])
    assert secret.startswith(f"pb-{key.id}-") and len(secret) > 40
    who = await store.authenticate(secret)
    assert who.key_id == key.id
    assert who.tags == {"key": key.id, "team": "search", "user": "ada"}
    assert who.models == ("openai/*", "fast")
    assert who.allows("openai/gpt-4o-mini") and who.allows("fast")
    assert not who.allows("anthropic/claude-sonnet-4") and not who.allows("fast2")
    master = await store.authenticate(MASTER)
    assert master.key_id is None and master.allows("anything/at-all")


async def test_only_a_keyed_hash_is_stored(store: KeyStore) -> None:
    key, secret = await store.create(name="n")
    (row,) = raw_rows(store)
    flat = " ".join(str(c) for c in row)
    assert secret not in flat and secret.rpartition("-")[2] not in flat
    assert KeyHasher.from_env(ENV).hash(secret) in row  # HMAC under the server secret
    import hashlib

    assert hashlib.sha256(secret.encode()).hexdigest() not in row  # not a bare hash
    # another server secret cannot verify it: the hash is keyed
    other = KeyHasher.from_env({"PLUGBAY_MASTER_KEY": "another-master-key-0000000000"})
    assert not other.matches(secret, key.hash)


@pytest.mark.parametrize("forge", [
    lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),  # the last character changed
    lambda s: s.rpartition("-")[0] + "-" + "x" * 43,  # right id, made-up secret
    lambda s: "pb-zzzzzzzzzz-" + s.rpartition("-")[2],  # right secret, other id
    lambda s: s[:14],  # only the non-secret prefix
    lambda s: "",
    lambda s: "sk-" + s,
    lambda s: MASTER + "x",
])
async def test_a_forged_key_is_refused(store: KeyStore, forge: Any) -> None:
    _, secret = await store.create()
    with pytest.raises(errors.AuthenticationError) as info:
        await store.authenticate(forge(secret))
    assert str(info.value) == "invalid API key"  # says nothing about why


async def test_an_expired_key_is_refused(store: KeyStore) -> None:
    key, secret = await store.create(expires=time.time() + 3600)
    assert (await store.authenticate(secret)).key_id == key.id
    now = [time.time() + 3601]  # an hour later, the cached key has expired
    store.clock = lambda: now[0]
    with pytest.raises(errors.AuthenticationError, match="is expired"):
        await store.authenticate(secret)
    _, old = await store.create(expires="2020-01-01")
    with pytest.raises(errors.AuthenticationError, match="is expired"):
        await store.authenticate(old)


async def test_a_revoked_key_is_refused_and_stays_listed_as_revoked(store: KeyStore) -> None:
    key, secret = await store.create(name="gone")
    await store.authenticate(secret)  # cached
    revoked = await store.revoke(key.id)
    assert revoked is not None and revoked.revoked is not None
    with pytest.raises(errors.AuthenticationError, match="is revoked"):
        await store.authenticate(secret)
    assert [k.id for k in await store.list()] == []
    assert [k.id for k in await store.list(revoked=True)] == [key.id]
    assert await store.revoke("nosuchkey0") is None


async def test_sql_metacharacters_in_metadata_are_stored_literally(store: KeyStore) -> None:
    made = []
    for text in NASTY:
        key, _ = await store.create(name=text, team=text, user=text,
                                    metadata={text: text, "note": text}, models=[text])
        made.append((key.id, text))
    for key_id, text in made:
        got = await store.get(key_id)
        assert got is not None
        assert (got.name, got.team, got.user, got.models) == (text, text, text, (text,))
        assert got.metadata == {text: text, "note": text}
        updated = await store.update(key_id, name=text + "'--")
        assert updated is not None and updated.name == text + "'--"
    assert len(await store.list()) == len(NASTY)  # the table is whole: nothing dropped
    assert await store.get("' OR '1'='1") is None  # an id is a value too, never SQL


async def test_update_changes_only_the_fields_given(store: KeyStore) -> None:
    key, secret = await store.create(name="a", budget=5, period="daily", rpm=10)
    updated = await store.update(key.id, budget=7.5, models=["openai/*"])
    assert updated is not None
    assert (updated.name, updated.budget, updated.period, updated.rpm) == ("a", 7.5,
                                                                           "daily", 10)
    assert updated.updated is not None
    who = await store.authenticate(secret)  # the change is seen at once, here
    assert who.models == ("openai/*",)
    with pytest.raises(errors.ConfigError, match="unknown field") as info:
        await store.update(key.id, colour="red")
    assert info.value.key == "colour"
    with pytest.raises(errors.ConfigError) as info:
        await store.update(key.id, period="weekly")
    assert info.value.key == "period"
    with pytest.raises(errors.ConfigError) as info:
        await store.create(budget=-1)
    assert info.value.key == "budget"
    assert await store.update("nosuchkey0", name="x") is None
    for bad in ({"team": "a\x00b"}, {"metadata": {"k": "a\x00"}}, {"metadata": {"k": 1}},
                {"models": ["ok", 3]}, {"name": "x" * 201}):
        with pytest.raises(errors.ConfigError) as info:
            await store.create(**bad)
        assert info.value.key is not None and info.value.key.startswith(next(iter(bad)))


async def test_lists_and_records_never_show_the_secret_or_its_hash(store: KeyStore) -> None:
    key, secret = await store.create(name="shown")
    for shown in [key.public(), *(k.public() for k in await store.list())]:
        text = repr(shown)
        assert secret not in text and key.hash not in text
        assert shown["prefix"] == f"pb-{key.id}" and "hash" not in shown


async def test_keys_never_reach_the_logs(store: KeyStore, caplog: pytest.LogCaptureFixture,
                                         ) -> None:
    caplog.set_level(logging.DEBUG)
    key, secret = await store.create(name="logged")
    await store.authenticate(secret)
    with pytest.raises(errors.AuthenticationError):
        await store.authenticate(secret + "x")
    await store.update(key.id, rpm=5)
    await store.revoke(key.id)
    with pytest.raises(errors.AuthenticationError):
        await store.authenticate(secret)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"revoked virtual key pb-{key.id}" in text  # the logs do name the key...
    assert secret not in text and key.hash not in text  # ...by its prefix only
    assert secret.rpartition("-")[2] not in text
    assert MASTER not in text
