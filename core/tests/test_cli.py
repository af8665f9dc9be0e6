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


# ------------------------------------------------------------ issue 13: bad input, --json


def cli(*argv: str, env_extra: dict[str, str] | None = None, cwd=None,
        stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    import os

    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("OPENAI", "PLUGBAY_CONFIG"))}
    environ.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "plugbay.cli", *argv], capture_output=True,
                          env=environ, cwd=cwd, timeout=60, input=stdin or b"")


def one_line_exit_2(proc: subprocess.CompletedProcess[bytes]) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_non_utf8_stdin_is_one_line(tmp_path, server):
    proc = cli("complete", "-m", "openai/m", cwd=tmp_path, stdin=b"caf\xe9 \xff\xfe",
               env_extra={"OPENAI_API_KEY": "sk-x0000000", "OPENAI_BASE_URL": server.url})
    err = one_line_exit_2(proc)
    assert "stdin is not UTF-8" in err and "0xe9" in err
    assert server.requests == []


@pytest.mark.parametrize(("url", "reason"), [("localhost:8080/v1", "http:// or https://"),
                                             ("http://127.0.0.1:99999/v1", "invalid port")])
def test_bad_base_url_from_environment_is_one_line(tmp_path, url, reason):
    err = one_line_exit_2(cli("complete", "-m", "openai/m", "hi", cwd=tmp_path, env_extra={
        "OPENAI_API_KEY": "sk-x0000000", "OPENAI_BASE_URL": url}))
    assert "OPENAI_BASE_URL" in err and reason in err


def test_bad_base_url_in_config_names_file_and_key(tmp_path):
    (tmp_path / "plugbay.toml").write_text(
        '[providers.openai]\nbase_url = "https://me:s3cret@api.example/v1"\n')
    err = one_line_exit_2(cli("complete", "-m", "openai/m", "hi", cwd=tmp_path))
    assert "plugbay.toml: providers.openai.base_url" in err
    assert "api_key" in err and "s3cret" not in err


ROUTES = ('[routes.smart]\ntargets = ["openai/gpt-4o"]\n[routes.cheap]\n'
          'targets = ["openai/gpt-4o-mini"]\n[agents]\npricing = "smart"\n')


@pytest.mark.parametrize(("name", "expected"), [
    ("smrt", "unknown route 'smrt'; did you mean smart?"),
    ("agent:pricng", "unknown agent 'agent:pricng'; did you mean agent:pricing?"),
    ("pricing", "did you mean agent:pricing?"),
])
def test_misspelled_route_or_agent_suggests_closest(tmp_path, name, expected):
    (tmp_path / "plugbay.toml").write_text(ROUTES)
    err = one_line_exit_2(cli("complete", "-m", name, "hi", cwd=tmp_path))
    assert expected in err
    assert "must be written as" not in err


def test_name_without_slash_and_no_routes(tmp_path):
    err = one_line_exit_2(cli("complete", "-m", "gpt-4o", "hi", cwd=tmp_path))
    assert "unknown route 'gpt-4o'" in err and "no routes" in err and "provider/model" in err


@pytest.mark.parametrize(("option", "value", "expected"), [
    ("--max-tokens", "0", "--max-tokens must be at least 1 (got 0)"),
    ("--max-tokens", "-5", "--max-tokens must be at least 1"),
    ("--temperature", "-0.5", "--temperature must be at least 0 (got -0.5)"),
])
def test_bad_parameters_fail_before_any_call(tmp_path, server, option, value, expected):
    err = one_line_exit_2(cli("complete", "-m", "openai/m", option, value, "hi", cwd=tmp_path,
                              env_extra={"OPENAI_API_KEY": "sk-x0000000",
                                         "OPENAI_BASE_URL": server.url + "/v1"}))
    assert expected in err
    assert server.requests == []


def test_request_refuses_bad_parameters_locally(env, server):
    import plugbay

    with plugbay.Client() as client:
        for bad in ({"max_tokens": 0}, {"temperature": -1}):
            with pytest.raises((ValueError, plugbay.errors.InvalidRequestError)):
                client.complete("openai/m", "hi", **bad)
    assert server.requests == []


def test_complete_json_stream_prints_final_completion(env, server):
    WIRE.script_stream(server, model="gpt-4o-mini", pieces=["Hi", " there"],
                       usage={"input": 3, "output": 2})
    code, out = run("complete", "-m", "openai/gpt-4o-mini", "--json", "--stream", "hello")
    assert code == 0
    result = json.loads(out)
    assert result["text"] == "Hi there" and result["usage"]["output_tokens"] == 2
    assert server.last.json()["stream"] is True


def test_json_error_carries_class_provider_status(env, server):
    server.add("POST", "/v1/chat/completions", Reply.json(
        {"error": {"message": "bad temperature", "type": "invalid_request_error"}}, status=400))
    code, out = run("complete", "-m", "openai/m", "--json", "hi")
    assert code == 2
    error = json.loads(out)["error"]
    assert error["class"] == "InvalidRequestError"
    assert (error["provider"], error["status"]) == ("openai", 400)
    assert "bad temperature" in error["message"] and error["retryable"] is False


def test_json_usage_errors_are_json_too(tmp_path):
    proc = cli("complete", "-m", "smrt", "--json", "hi", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr == b""
    error = json.loads(proc.stdout)["error"]
    assert error["class"] == "PluginError" and "unknown route" in error["message"]
    proc = cli("complete", "-m", "openai/m", "--json", "hi", cwd=tmp_path)
    error = json.loads(proc.stdout)["error"]
    assert (error["class"], error["provider"]) == ("MissingAPIKeyError", "openai")


def test_timeout_seconds_are_rounded(tmp_path, server):
    """A route's second attempt gets the deadline's remainder: 0.5693219 s reads 0.569 s."""
    from plugbay import errors
    from plugbay.cli import _one_line

    assert _one_line(errors.TimeoutError("no answer within 0.5693219 s", provider="b")) == \
        "[b] no answer within 0.569 s"
    server.add("POST", "/a/v1/chat/completions", Reply.json({"error": {"message": "x"}},
                                                             status=500))
    server.add("POST", "/b/v1/chat/completions", Reply.json(WIRE.completion(
        "m", {"role": "assistant", "content": "x"}, "stop", {"input": 1, "output": 1}),
        delay=3))
    (tmp_path / "plugbay.toml").write_text(
        "".join(f'[providers.{p}]\nplugin = "openai"\napi_key = "sk-x0000000"\n'
                f'base_url = "{server.url}/{p}/v1"\n' for p in "ab")
        + '[routes.slow]\ntargets = ["a/m", "b/m"]\ndeadline = 0.7\nmax_attempts = 2\n')
    proc = cli("complete", "-m", "slow", "--json", "hi", cwd=tmp_path)
    error = json.loads(proc.stdout)["error"]
    assert error["class"] == "TimeoutError"
    seconds = error["message"].split("within ")[1].split(" s")[0]
    assert len(seconds) <= 5, error["message"]


def test_health_prints_only_its_table(tmp_path):
    """Azure's credential chain logs a paragraph to stderr; the table already says why."""
    pytest.importorskip("azure.identity")
    proc = cli("health", "--provider", "azure", cwd=tmp_path,
               env_extra={"HOME": str(tmp_path)})
    assert proc.stderr.decode() == ""
    assert proc.stdout.decode().splitlines()[1].split()[:2] == ["azure", "down"]


def test_missing_key_hint_names_each_variable_once(tmp_path):
    proc = cli("health", "--provider", "cohere", "--json", cwd=tmp_path)
    detail = json.loads(proc.stdout)[0]["detail"]
    assert detail.count("COHERE_API_KEY") == 1 and detail.count("cohere") == 2, detail
