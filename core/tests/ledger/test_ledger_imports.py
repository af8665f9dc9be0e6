"""The optional drivers stay optional: ``import plugbay`` and a call with the default
(SQLite) ledger import none of psycopg, redis, OpenTelemetry or matplotlib."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from plugbay.testing.server import FakeServer

from .conftest import chat, ok


@pytest.mark.timeout(60)
def test_no_optional_driver_is_imported(srv: FakeServer, tmp_path: Path) -> None:
    srv.add("POST", chat(), ok())
    script = textwrap.dedent(f"""
        import sys, plugbay
        assert "plugbay.cost.ledger" not in sys.modules and "sqlite3" not in sys.modules
        cfg = {{"providers": {{"openai": {{"api_key": "sk-test-0123456789abcdef",
                "base_url": "{srv.url}/openai/v1"}}}},
               "ledger": {{"path": {str(tmp_path / "l.db")!r}}},
               "budgets": {{"b": {{"limit": 1}}}}, "rate_limits": {{"openai": {{"rpm": 9}}}}}}
        with plugbay.Client(cfg, env={{}}) as client:
            client.complete("openai/gpt-4o-mini", "hi")
        heavy = [m for m in ("psycopg", "redis", "opentelemetry", "matplotlib")
                 if m in sys.modules]
        assert not heavy, heavy
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=50)
