"""`import plugbay` pulls in no plugin, no SDK and nothing heavy (timing lives in bench/)."""

import json
import subprocess
import sys

HEAVY = ("pydantic", "pluggy", "plugbay_", "boto3", "botocore", "google", "azure", "httpx",
         "aiohttp", "openai", "anthropic", "asyncio", "ssl", "plugbay.gateway", "uvicorn",
         "prometheus_client", "opentelemetry")
# What `from plugbay import Client` and `Client()` with no config file must not load
# (issue 12): pydantic and the config schema come with the first table read, the types
# with the first call, plugin discovery with the first provider used; dataclasses (and
# the inspect it imports) cost ~15% of the rest.
NOT_FOR_CLIENT = ("pydantic", "plugbay._config_schema", "plugbay.types", "pluggy",
                  "importlib.metadata", "plugbay_", "dataclasses")


def modules_after(code: str, cwd: str | None = None) -> list[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys, json\n"
                          "print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True, cwd=cwd)
    return json.loads(out.stdout)


def test_import_plugbay_is_light():
    loaded = modules_after("import plugbay")
    bad = [m for m in loaded if m.startswith(HEAVY)]
    assert bad == []


def test_client_construction_loads_no_plugin():
    loaded = modules_after("import plugbay\nc = plugbay.Client(env={})\nc.plugins()")
    assert not [m for m in loaded if m.startswith(("plugbay_", "boto3", "google", "azure"))]


def test_client_without_config_builds_no_models(tmp_path):
    loaded = modules_after("from plugbay import Client\nClient(env={})", cwd=str(tmp_path))
    assert [m for m in loaded if m.startswith(NOT_FOR_CLIENT)] == []


def test_a_config_table_is_validated_by_the_schema(tmp_path):
    # The control for the test above: the module it watches is the one that validates.
    loaded = modules_after("from plugbay import Client\n"
                           "Client({'providers': {'x': {'timeout': 5}}}, env={})",
                           cwd=str(tmp_path))
    assert "plugbay._config_schema" in loaded and "pydantic" in loaded


def test_client_import_needs_no_asyncio(tmp_path):
    loaded = modules_after("from plugbay import Client\nClient(env={})", cwd=str(tmp_path))
    assert [m for m in loaded if m.startswith(("asyncio", "concurrent", "ssl", "inspect"))] == []


def test_a_direct_call_loads_no_route_models(tmp_path):
    """Direct calls retry through the routing layer, but need none of the route models
    (their pydantic schemas cost a cold start about 100 ms)."""
    loaded = modules_after(
        "import plugbay\n"
        "class Echo:\n"
        "    name = 'echo'\n"
        "    @plugbay.hookimpl\n"
        "    def complete(self, request, provider):\n"
        "        return plugbay.Completion(text='hi', model=request.model, provider='echo')\n"
        "c = plugbay.Client({'ledger': {'path': 'off'}}, env={}, plugins=[Echo()])\n"
        "assert c.complete('echo/m', 'hi').text == 'hi'\n"
        "assert c.pipeline.names()[0] == 'routing'", cwd=str(tmp_path))
    assert "plugbay.layers.routing" in loaded
    assert [m for m in loaded if m in ("plugbay.routing.routes", "plugbay.routing.router",
                                       "plugbay.routing.strategies")] == []
