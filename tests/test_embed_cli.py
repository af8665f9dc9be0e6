"""``plugbay plugins`` lists each plugin's operations (from the hooks it implements);
``plugbay embed`` prints vectors as JSON; a provider without embeddings is one line."""

from __future__ import annotations

import io
import json

import pytest

from plugbay.cli import main
from plugbay.testing.embed_wire import OpenAIEmbedWire, fake_vector
from plugbay.testing.server import FakeServer

pytestmark = pytest.mark.timeout(60)
WIRE = OpenAIEmbedWire()


@pytest.fixture
def env(fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLUGBAY_CONFIG", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-00000000")
    monkeypatch.setenv("OPENAI_BASE_URL", WIRE.base_url(fake_server.url))
    monkeypatch.setenv("GROQ_API_KEY", "gsk-cli-0000")
    (tmp_path / "plugbay.toml").write_text('[ledger]\npath = "off"\n')
    return tmp_path


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_plugins_show_operations(env) -> None:
    code, out = run("plugins", "--json")
    ops = {p["name"]: p["operations"] for p in json.loads(out)}
    assert code == 0
    assert ops["openai"][:3] == ["complete", "stream", "embed"] and "batch_*" in ops["openai"]
    if "groq" in ops:
        assert "embed" not in ops["groq"] and "complete" in ops["groq"]
    code, table = run("plugins")
    assert "OPERATIONS" in table.splitlines()[0]
    line = next(row for row in table.splitlines() if row.startswith("openai "))
    assert "complete,stream,embed" in line


def test_embed_prints_vectors(env, fake_server: FakeServer) -> None:
    WIRE.script_embeddings(fake_server, model="text-embedding-3-small")
    code, out = run("embed", "-m", "openai/text-embedding-3-small", "one", "two",
                    "--dimensions", "4")
    got = json.loads(out)
    assert code == 0
    assert got["vectors"] == [fake_vector("one", 4), fake_vector("two", 4)]
    assert got["cost"] is not None and got["usage"]["input_tokens"] > 0


def test_embed_on_a_provider_without_it_is_one_line(env, capsys) -> None:
    pytest.importorskip("plugbay_groq")
    code, _ = run("embed", "-m", "groq/llama-3.3-70b-versatile", "hi")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no embeddings" in err
