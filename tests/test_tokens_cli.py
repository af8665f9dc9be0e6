"""``plugbay tokens``: a prompt's count from the provider's counter or a local tokenizer
(here OpenAI's, offline through the ``tiktoken_cache`` fixture), printed or as JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from plugbay.cli import main
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def env(fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLUGBAY_CONFIG", raising=False)
    (tmp_path / "plugbay.toml").write_text(
        f'[ledger]\npath = "off"\n[providers.openai]\napi_key = "sk-cli-00000000"\n'
        f'base_url = "{fake_server.url}"\n[providers.anthropic]\n'
        f'api_key = "sk-ant-cli-000000"\nbase_url = "{fake_server.url}"\n')
    return tmp_path


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_openai_counts_locally(env: Path, tiktoken_cache: Path,
                               fake_server: FakeServer) -> None:
    pytest.importorskip("plugbay_openai")
    code, out = run("tokens", "-m", "openai/gpt-4o", "Hello,", "world")
    assert (code, out) == (0, "10 tokens (exact, local)\n")  # 3 + 1 + 3 + 3
    code, out = run("tokens", "-m", "openai/gpt-4o", "--system", "Be brief.", "--json",
                    "Hello, world")
    got = json.loads(out)
    assert got["count"] == 10 + 3 + 1 + 3 and got["source"] == "local"  # "Be brief."
    assert fake_server.requests == []


def test_anthropic_asks_its_endpoint(env: Path, fake_server: FakeServer) -> None:
    pytest.importorskip("plugbay_anthropic")
    route = fake_server.add("POST", "/v1/messages/count_tokens",
                            Reply.json({"input_tokens": 14}))
    code, out = run("tokens", "-m", "anthropic/claude-haiku-4-5", "Hello")
    assert (code, out) == (0, "14 tokens (exact, provider)\n")
    assert route.requests[0].json()["messages"][0]["content"][0]["text"] == "Hello"


def test_an_unknown_provider_is_one_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("tokens", "-m", "nope/model", "hi")
    err = capsys.readouterr().err
    assert code != 0 and "nope" in err and len(err.strip().splitlines()) == 1
