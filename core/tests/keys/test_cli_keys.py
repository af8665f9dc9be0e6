"""``plugbay keys create|list|update|revoke``: the secret is printed once, lists show
ids and prefixes, and every mistake is one line with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plugbay.cli import main

from .conftest import MASTER


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ledger.db"
    monkeypatch.setenv("PLUGBAY_MASTER_KEY", MASTER)
    monkeypatch.setenv("PLUGBAY_LEDGER", str(path))
    monkeypatch.chdir(tmp_path)  # no plugbay.toml here
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_create_list_update_revoke(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "keys", "create", "--name", "ci", "--budget", "5", "--period",
                       "daily", "--model", "openai/*", "--model", "fast", "--team", "search",
                       "--meta", "ticket=OPS-1", "--expires", "30d")
    assert code == 0
    secret, note = out.splitlines()
    key_id = secret[3:13]
    assert secret.startswith(f"pb-{key_id}-") and "cannot be shown again" in note
    code, out, _ = run(capsys, "keys", "list")
    assert code == 0 and f"pb-{key_id}" in out and "5/daily" in out
    assert "openai/*,fast" in out and secret not in out
    code, out, _ = run(capsys, "keys", "update", f"pb-{key_id}", "--rpm", "30",
                       "--all-models", "--no-expiry", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["rpm"] == 30 and shown["models"] is None
    assert shown["expires"] is None and shown["budget"] == 5.0
    code, out, _ = run(capsys, "keys", "revoke", key_id)
    assert code == 0 and out == f"revoked pb-{key_id}\n"
    assert run(capsys, "keys", "list")[1].startswith("no virtual keys")
    code, out, _ = run(capsys, "keys", "list", "--all", "--json")
    (listed,) = json.loads(out)
    assert listed["revoked"] is not None and secret not in out


@pytest.mark.parametrize("argv,says", [
    (["keys", "revoke", "nosuchkey0"], "no virtual key 'nosuchkey0'"),
    (["keys", "update", "nosuchkey0", "--rpm", "1"], "no virtual key"),
    (["keys", "update", "nosuchkey0"], "nothing to change"),
    (["keys", "create", "--budget", "-3"], "budget: must be a number >= 0"),
    (["keys", "create", "--expires", "someday"], "expires: 'someday' is not a time"),
    (["keys", "create", "--meta", "novalue"], "--meta: 'novalue': use --meta key=value"),
])
def test_mistakes_are_one_line_and_exit_2(ledger: Path, capsys: pytest.CaptureFixture[str],
                                          argv: list[str], says: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and says in err and "Traceback" not in err


def test_without_a_master_key_it_says_what_to_set(ledger: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLUGBAY_MASTER_KEY")
    code, _, err = run(capsys, "keys", "list")
    assert code == 2 and "set PLUGBAY_MASTER_KEY" in err and err.count("\n") == 1
    monkeypatch.setenv("PLUGBAY_MASTER_KEY", "short")
    code, _, err = run(capsys, "keys", "list")
    assert code == 2 and "at least 16 characters" in err


def test_the_ledger_off_means_no_keys(ledger: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLUGBAY_LEDGER", "off")
    code, _, err = run(capsys, "keys", "create")
    assert code == 2 and "ledger database, which is off" in err


def test_import_plugbay_loads_no_key_code() -> None:
    import subprocess
    import sys

    code = ("import sys, plugbay, plugbay.cli\nplugbay.cli.build_parser()\n"
            "print([m for m in sys.modules if m.startswith('plugbay.gateway')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
