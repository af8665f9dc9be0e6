"""`import plugbay` pulls in no plugin, no SDK and nothing heavy (timing lives in bench/)."""

import json
import subprocess
import sys

HEAVY = ("pydantic", "pluggy", "plugbay_", "boto3", "botocore", "google", "azure", "httpx",
         "aiohttp", "openai", "anthropic", "asyncio", "ssl")


def modules_after(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys, json\n"
                          "print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_import_plugbay_is_light():
    loaded = modules_after("import plugbay")
    bad = [m for m in loaded if m.startswith(HEAVY)]
    assert bad == []


def test_client_construction_loads_no_plugin():
    loaded = modules_after("import plugbay\nc = plugbay.Client(env={})\nc.plugins()")
    assert not [m for m in loaded if m.startswith(("plugbay_", "boto3", "google", "azure"))]
