"""The plugbay command: listings, streaming completion, and one-line user errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from plugbay.cli import main
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer
from plugbay.testing.wire import OpenAIWire

WIRE = OpenAIWire()


@pytest.fixture
def server():
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def env(server, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "PLUGBAY_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-00000000")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    return tmp_path


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_plugins_lists_openai(env):
    code, out = run("plugins")
    assert code == 0
    assert "openai" in out and "plugbay-openai" in out and "loaded" in out


def test_complete_streams(env, server):
    WIRE.script_stream(server, model="gpt-4o-mini", pieces=["Hi", " there"],
                       usage={"input": 1, "output": 2})
    code, out = run("complete", "-m", "openai/gpt-4o-mini", "--system", "terse",
                    "--temperature", "0.2", "hello")
    assert (code, out) == (0, "Hi there\n")
    body = server.last.json()
    assert body["messages"][0] == {"role": "system", "content": "terse"}
    assert body["temperature"] == 0.2 and body["stream"] is True


def test_complete_json(env, server):
    WIRE.script_completion(server, model="gpt-4o-mini", text="ok", usage={"input": 1,
                                                                           "output": 1})
    code, out = run("complete", "-m", "openai/gpt-4o-mini", "--json", "hello")
    assert code == 0 and json.loads(out)["text"] == "ok"


def test_models_shows_prices(env, server):
    WIRE.script_models(server, ["gpt-4o-mini"])
    code, out = run("models", "--provider", "openai")
    assert code == 0
    line = next(ln for ln in out.splitlines() if ln.startswith("openai/gpt-4o-mini "))
    assert "128000" in line and "0.15" in line and "0.6" in line and "2026-" in line


def test_health(env, server):
    WIRE.script_models(server, ["gpt-4o-mini"])
    code, out = run("health", "--provider", "openai")
    assert code == 0 and "ok" in out


def user_error(*argv: str, env_extra: dict[str, str] | None = None, cwd=None) -> str:
    import os

    environ = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI")}
    environ.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-m", "plugbay.cli", *argv], capture_output=True,
                          text=True, env=environ, cwd=cwd, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc.stderr


def test_unknown_provider_lists_installed(tmp_path):
    err = user_error("complete", "-m", "nosuch/model", "hi", cwd=tmp_path)
    assert "unknown provider 'nosuch'" in err and "openai" in err


def test_missing_key_names_variable(tmp_path):
    err = user_error("complete", "-m", "openai/gpt-4o", "hi", cwd=tmp_path)
    assert "OPENAI_API_KEY" in err


def test_bad_config_names_file_key_reason(tmp_path):
    (tmp_path / "plugbay.toml").write_text('[providers.openai]\ntimeout = "never"\n')
    err = user_error("models", cwd=tmp_path)
    assert "plugbay.toml" in err and "providers.openai.timeout" in err


def test_rejected_model_suggests_close_matches(tmp_path, server):
    server.add("POST", "/v1/chat/completions", Reply.json(
        {"error": {"message": "The model `gpt-4o-mni` does not exist", "code": "model_not_found"}},
        status=404))
    WIRE.script_models(server, ["gpt-4o-mini", "gpt-4o"])
    err = user_error("complete", "-m", "openai/gpt-4o-mni", "hi", cwd=tmp_path, env_extra={
        "OPENAI_API_KEY": "sk-x0000000", "OPENAI_BASE_URL": server.url + "/v1"})
    assert "did you mean openai/gpt-4o-mini" in err


def test_prompt_from_stdin(tmp_path, server):
    WIRE.script_stream(server, model="m", pieces=["piped"], usage={"input": 1, "output": 1})
    import os

    environ = dict(os.environ, OPENAI_API_KEY="sk-x0000000", OPENAI_BASE_URL=server.url + "/v1")
    proc = subprocess.run([sys.executable, "-m", "plugbay.cli", "complete", "-m", "openai/m"],
                          input="from stdin", capture_output=True, text=True, env=environ,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "piped\n"
    assert server.last.json()["messages"][-1]["content"] == "from stdin"
