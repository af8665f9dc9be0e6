"""The JSON-array framing holds at most ``max_event`` of an element that never closes."""

from __future__ import annotations

import pytest
from plugbay_gemini.framing import JSONArrayDecoder

from plugbay.errors import ResponseTooLargeError


def test_an_element_that_never_closes_is_cut_at_max_event() -> None:
    decoder = JSONArrayDecoder(max_event=1000)
    assert decoder.feed(b'[{"a": 1},\r\n') == [{"a": 1}]
    decoder.feed(b'{"text": "' + b"x" * 900)
    with pytest.raises(ResponseTooLargeError, match="max_event") as caught:
        for _ in range(10):
            decoder.feed(b"x" * 100)
    assert caught.value.limit == 1000


def test_elements_under_max_event_pass() -> None:
    decoder = JSONArrayDecoder(max_event=1000)
    items = decoder.feed(b"[" + b",".join([b'{"t": "' + b"y" * 900 + b'"}'] * 5) + b"]")
    assert len(items) == 5 and not decoder.pending
