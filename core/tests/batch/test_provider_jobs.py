"""plugbay.batch.jobs on its own: the batch price, bad input and plugins without batch hooks.

(Each implementing plugin runs the full batch conformance suite against its fake.)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import plugbay
from plugbay import errors
from plugbay.batch import jobs
from plugbay.types import Price


def test_batch_price_scales_every_rate_and_unknown_stays_unknown() -> None:
    price = Price(input=2.0, output=8.0, cached_input=0.5, as_of=dt.date(2026, 1, 1),
                  source="s", batch=0.5, batch_source="b")
    half = jobs.batch_price(price)
    assert half is not None
    assert (half.input, half.output, half.cached_input, half.cache_write) == (1.0, 4.0, 0.25,
                                                                               None)
    assert half.source == "b"
    assert jobs.batch_price(price.model_copy(update={"batch": None})) is None
    assert jobs.batch_price(None) is None


async def test_plugin_without_batch_hooks_loads_and_says_so(tmp_path: Path) -> None:
    config = {"ledger": {"path": str(tmp_path / "l.db")}}
    async with plugbay.Client(config, env={}) as client:
        done = await client.acomplete("mock/echo", "hi")  # still loads and answers
        assert done.text
        items = [{"custom_id": "x", "body": {"model": "mock/echo", "messages": "hi"}}]
        with pytest.raises(errors.BatchUnsupportedError, match="'mock' has no batch job API"):
            await jobs.submit(client, items)
        with pytest.raises(errors.BatchUnsupportedError):
            await jobs.status(client, "mock:job1")


@pytest.mark.parametrize(("items", "says"), [
    ([], "no items"),
    ([{"body": {"model": "mock/echo", "messages": "hi"}}], "no custom_id"),
    ([{"custom_id": "a", "body": {"messages": "hi"}}], "names no model"),
    ([{"custom_id": "a", "body": {"model": "mock/echo", "messages": "hi"}}] * 2, "repeated"),
])
async def test_bad_items_get_one_line(items: list[dict], says: str, tmp_path: Path) -> None:
    async with plugbay.Client({"ledger": {"path": str(tmp_path / "l.db")}}, env={}) as client:
        with pytest.raises(errors.PlugbayError, match=says) as info:
            await jobs.submit(client, items)
        assert "\n" not in str(info.value)


async def test_job_id_must_name_the_provider(tmp_path: Path) -> None:
    async with plugbay.Client({"ledger": {"path": str(tmp_path / "l.db")}}, env={}) as client:
        with pytest.raises(errors.PluginError, match="'provider:id'"):
            await jobs.cancel(client, "batch_abc")
