"""The incremental SSE and NDJSON parsers, fed byte by byte where it matters."""

import pytest

from plugbay.http.sse import NDJSONDecoder, SSEDecoder


def feed_all(data: bytes, step: int):
    decoder, events = SSEDecoder(), []
    for i in range(0, len(data), step):
        events += decoder.feed(data[i:i + step])
    return events + decoder.close(), decoder


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1000])
def test_sse_edge_cases_any_chunking(step):
    data = (b": OPENROUTER PROCESSING\r\n\r\n"
            b"event: message_start\r\ndata: {\"a\":1}\r\n\r\n"
            b"data:no-space\n\n"
            b"data: line1\ndata: line2\n\n"
            b"id: 7\nretry: 100\ndata: x\r\r"
            b"data: caf\xc3\xa9\n\n")
    events, decoder = feed_all(data, step)
    assert [(e.event, e.data) for e in events] == [
        ("message_start", '{"a":1}'), ("message", "no-space"), ("message", "line1\nline2"),
        ("message", "x"), ("message", "café")]
    assert events[3].id == "7" and events[3].retry == 100
    assert decoder.comments == 1


def test_sse_cut_mid_line_is_dropped():
    events, _ = feed_all(b"data: {\"a\":1}\n\ndata: {\"trunc", 5)
    assert [e.data for e in events] == ['{"a":1}']


def test_ndjson_split_lines():
    decoder = NDJSONDecoder()
    out = decoder.feed(b'{"a":1}\n{"b"') + decoder.feed(b':2}\n\n') + decoder.close()
    assert out == [{"a": 1}, {"b": 2}]
