"""Batch input lines (both forms, malformed ones by line number) and the result file
(append per line, done ids read back, a torn last line cut)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from plugbay.batch.inputs import BadLine, InputError, normalise, read_lines
from plugbay.batch.results import ResultWriter, read_done

MESSAGES = [{"role": "user", "content": "hi"}]


def test_both_input_forms_normalise_to_the_same_item() -> None:
    openai = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
              "body": {"model": "openai/gpt-4o-mini", "messages": MESSAGES, "max_tokens": 5}}
    simple = {"custom_id": "a", "model": "openai/gpt-4o-mini", "messages": MESSAGES,
              "max_tokens": 5}
    assert normalise(openai) == normalise(simple) == {
        "custom_id": "a", "body": {"model": "openai/gpt-4o-mini", "messages": MESSAGES,
                                   "max_tokens": 5}}
    assert normalise({"custom_id": "b", "messages": MESSAGES}, "mock/echo")["body"][
        "model"] == "mock/echo"


@pytest.mark.parametrize(("item", "why"), [
    ({"model": "m/x", "messages": MESSAGES}, "no custom_id"),
    ({"custom_id": "", "model": "m/x", "messages": MESSAGES}, "no custom_id"),
    ({"custom_id": "a", "messages": MESSAGES}, "no model"),
    ({"custom_id": "a", "model": "m/x"}, "no messages"),
    ({"custom_id": "a", "model": 3, "messages": MESSAGES}, "model must be a string"),
    ({"custom_id": "a", "url": "/v1/embeddings", "body": {}}, "POST /v1/embeddings"),
    ({"custom_id": "a", "method": "GET", "url": "/v1/chat/completions", "body": {}}, "GET"),
    ({"custom_id": "a", "url": "/v1/chat/completions", "body": [1]}, "'body' must be"),
    ({"custom_id": "a", "body": {}, "model": "x"}, "unknown key(s) model"),
    ({"custom_id": "a", "model": "m/x", "messages": MESSAGES, "tags": ["x"]}, "'tags' must"),
])
def test_a_malformed_item_says_what_is_wrong(item: dict[str, object], why: str) -> None:
    with pytest.raises(InputError, match=None) as info:
        normalise(item)
    assert why in str(info.value)


def test_read_lines_numbers_bad_lines_and_reads_on() -> None:
    good = json.dumps({"custom_id": "a", "model": "m/x", "messages": MESSAGES})
    text = "\n".join([good, "", "[1, 2", json.dumps([1]), good,
                      json.dumps({"custom_id": "b", "model": "m/x", "messages": MESSAGES})])
    out = list(read_lines(io.StringIO(text + "\n")))
    assert [x.line if isinstance(x, BadLine) else x["custom_id"] for x in out] == \
        ["a", 3, 4, 5, "b"]
    assert "not JSON" in str(out[1]) and str(out[1]).startswith("line 3: ")
    assert "expected a JSON object" in out[2].reason  # type: ignore[union-attr]
    assert "'a' is repeated" in out[3].reason  # type: ignore[union-attr]


def test_lines_are_read_lazily() -> None:
    def lines():  # type: ignore[no-untyped-def]
        yield json.dumps({"custom_id": "a", "model": "m/x", "messages": MESSAGES})
        raise AssertionError("read past the first item")

    assert next(read_lines(lines()))["custom_id"] == "a"  # type: ignore[index]


def test_the_writer_appends_and_a_rerun_reads_the_done_ids(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with ResultWriter(out) as w:
        assert w.done == set()
        w.write({"custom_id": "a", "response": None})
        w.write({"custom_id": "b", "response": None, "text": "ünïcode"})
    with ResultWriter(out) as w:
        assert w.done == {"a", "b"}
        w.write({"custom_id": "c"})
    assert [json.loads(x)["custom_id"] for x in out.read_text().splitlines()] == ["a", "b", "c"]


def test_a_torn_last_line_is_cut_and_the_next_line_starts_clean(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"custom_id": "a"}\n{"custom_id": "b"}\n{"custom_id": "c", "resp')
    with ResultWriter(out) as w:
        assert w.done == {"a", "b"}
        w.write({"custom_id": "c"})
    assert [json.loads(x)["custom_id"] for x in out.read_text().splitlines()] == ["a", "b", "c"]
    out.write_text('{"custom_id": "a"}\nnot ours\n')  # a foreign line is kept, not counted
    assert read_done(out) == {"a"} and out.read_text().endswith("not ours\n")


def test_a_line_written_survives_kill_9(tmp_path: Path) -> None:
    """Each line is one write(2) on an unbuffered file: in the page cache the moment it
    returns, so a SIGKILL the next instant loses nothing."""
    out = tmp_path / "out.jsonl"
    script = textwrap.dedent("""
        import os, signal, sys
        from pathlib import Path
        from plugbay.batch.results import ResultWriter
        w = ResultWriter(Path(sys.argv[1]))
        for i in range(1000):
            w.write({"custom_id": f"id-{i}"})
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(out)], timeout=60,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == -9
    assert read_done(out) == {f"id-{i}" for i in range(1000)}
