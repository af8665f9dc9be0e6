"""What differs between the supported Pythons, tested on each (CI runs core's tests on
3.10, 3.11 and 3.13): TOML reading (``tomllib`` from 3.11, ``tomli`` before) and the
timeout context (``asyncio.timeout`` from 3.11, plugbay's own before)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from plugbay import _toml
from plugbay._aio import within


def test_toml_reads_and_names_its_errors() -> None:
    assert _toml.loads('a = 1\n[b]\nc = "d"\n') == {"a": 1, "b": {"c": "d"}}
    with pytest.raises(_toml.TOMLDecodeError):
        _toml.loads("a = ")


async def test_within_times_out_as_the_builtin_timeout_error() -> None:
    with pytest.raises(TimeoutError):
        async with within(0.05):
            await asyncio.sleep(5)


async def test_within_zero_times_out_at_the_first_await() -> None:
    with pytest.raises(TimeoutError):
        async with within(0):
            await asyncio.sleep(1)


async def test_within_none_and_a_fast_body_pass() -> None:
    async with within(None):
        await asyncio.sleep(0)
    async with within(5):
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)  # no stray cancellation arrives later


async def test_an_outer_cancel_stays_a_cancel() -> None:
    async def body() -> None:
        async with within(5):
            await asyncio.sleep(5)

    task = asyncio.ensure_future(body())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_this_python_is_supported() -> None:
    assert sys.version_info >= (3, 10)
