"""The deployment shipped in docs/deploy/, run for real where this machine can.

* Two gateway instances x two workers from the shipped ``plugbay.toml`` (verbatim; only
  its ``${VAR}``s are set), on one PostgreSQL and one Redis, behind nginx running the
  shipped ``nginx.conf`` (only the instance addresses and the listen port are changed).
  Called through nginx with the ``openai`` SDK only.
* The Dockerfile's build stage, run without Docker (no engine runs here): the files its
  ``COPY`` lines name go into an empty folder and its ``RUN`` line runs there. The image
  itself, and ``compose.yaml`` under Docker, are not run; they are checked against the
  files they name and against each other.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _gateway_support import UPSTREAM_KEY, GatewayProcess, cli, free_port, service

from plugbay.testing.server import FakeServer

openai = pytest.importorskip("openai")
pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "docs" / "deploy"
HI = [{"role": "user", "content": "hi"}]
MODEL = "openai/gpt-4o-mini"


def _need(what: str, found: Any) -> Any:
    """Skip without ``found``, but fail in CI, which installs and starts everything."""
    if not found:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is missing in CI (.ci/services installs it)")
        pytest.skip(f"needs {what} (.ci/services)")
    return found


def _redis_db(url: str, db: int) -> str:
    """``url`` on database ``db``: one of this test's own, emptied first."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{db}"))


class Nginx:
    """nginx running the shipped nginx.conf, pointed at ``instances``."""

    def __init__(self, binary: str, home: Path, instances: list[str]) -> None:
        text = (DEPLOY / "nginx.conf").read_text()
        servers = re.findall(r"^\s*server\s+gateway:\d+(.*);", text, re.M)
        assert len(servers) == 1, "nginx.conf should name the compose service once"
        lines = "".join(f"        server {addr}{servers[0]};\n" for addr in instances)
        text = re.sub(r"^\s*server\s+gateway:\d+.*;\n", lines, text, count=1, flags=re.M)
        self.port = free_port()
        text, n = re.subn(r"listen\s+\d+;", f"listen 127.0.0.1:{self.port};", text)
        assert n == 1
        temp = ""  # nginx's temporary files in this test's folder, not /var/lib/nginx
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (home / kind).mkdir(exist_ok=True)
            temp += f"    {kind}_temp_path {home / kind};\n"
        text = text.replace("http {\n", f"http {{\n    access_log {home / 'access.log'};\n"
                                         f"{temp}", 1)
        head = f"pid {home / 'nginx.pid'};\n" + ("user root;\n" if os.geteuid() == 0 else "")
        conf = home / "nginx.conf"
        conf.write_text(head + text)
        self.url = f"http://127.0.0.1:{self.port}"
        self.error_log = home / "error.log"
        self.proc = subprocess.Popen(
            [binary, "-p", str(home), "-c", str(conf), "-e", str(self.error_log),
             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"nginx exited {self.proc.returncode}: {err}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not listen in 10 s")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def deployment(upstream: FakeServer, tmp_path_factory: pytest.TempPathFactory,
               ) -> Iterator[dict[str, Any]]:
    pg = _need("PostgreSQL", service("PLUGBAY_TEST_POSTGRES_URL"))
    base = _need("Redis", service("PLUGBAY_TEST_REDIS_URL"))
    binary = _need("nginx", shutil.which("nginx") or
                   (os.path.exists("/usr/sbin/nginx") and "/usr/sbin/nginx"))
    redis = pytest.importorskip("redis")
    redis_url = _redis_db(base, 14)
    redis.Redis.from_url(redis_url).flushdb()
    home = tmp_path_factory.mktemp("deploy")
    config = home / "plugbay.toml"
    shutil.copy(DEPLOY / "plugbay.toml", config)  # the shipped file, unchanged
    env = {"OPENAI_API_KEY": UPSTREAM_KEY, "OPENAI_BASE_URL": upstream.url + "/v1",
           "PLUGBAY_DATABASE_URL": pg, "PLUGBAY_REDIS_URL": redis_url}
    gws = [GatewayProcess(config, workers=2, env=env) for _ in range(2)]
    nginx = Nginx(binary, home, [f"127.0.0.1:{gw.port}" for gw in gws])
    yield {"gws": gws, "nginx": nginx, "config": config, "env": env}
    nginx.stop()
    for gw in gws:
        gw.stop()


def _via(url: str, key: str) -> Any:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=30)


def _served(gw: GatewayProcess) -> int:
    """Chat calls in ``gw``'s access log."""
    return sum(1 for line in gw.logs().splitlines()
               if line.startswith("{") and json.loads(line).get("path") == "/v1/chat/completions")


def _served_since(gws: list[GatewayProcess], before: list[int], total: int) -> list[int]:
    """Chat calls each instance logged since ``before``, once they add up to ``total`` or
    after 2 s (an access line is written just after its answer is sent)."""
    served: list[int] = []
    for _ in range(40):
        served = [_served(gw) - b for gw, b in zip(gws, before, strict=True)]
        if sum(served) >= total:
            break
        time.sleep(0.05)
    return served


def test_calls_and_streams_go_through_nginx_to_both_instances(
        deployment: dict[str, Any]) -> None:
    gws, nginx = deployment["gws"], deployment["nginx"]
    made = cli(deployment["config"], "keys", "create", env=deployment["env"])
    client = _via(nginx.url, made["key"])
    before = [_served(gw) for gw in gws]
    for _ in range(24):
        raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=HI)
        assert raw.parse().choices[0].message.content == "Hello from upstream"
        assert raw.headers.get("x-request-id")  # the gateway's, passed on by nginx
    for _ in range(4):
        stream = client.chat.completions.create(model=MODEL, messages=HI, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) \
            == "Hello from upstream"
    served = _served_since(gws, before, 28)
    assert sum(served) == 28
    assert min(served) > 0, f"nginx sent every call to one instance: {served}"
    calls = None
    for _ in range(100):  # each worker's ledger writer commits in the background
        rows = {r["key"]: r for r in cli(deployment["config"], "usage", "--by", "key",
                                         env=deployment["env"])}
        calls = rows.get(made["id"], {}).get("calls")
        if calls == 28:
            break
        time.sleep(0.1)
    assert calls == 28  # one ledger row per call, in PostgreSQL


def test_a_revoked_key_is_refused_by_every_instance_within_a_second(
        deployment: dict[str, Any]) -> None:
    gws, nginx = deployment["gws"], deployment["nginx"]
    made = cli(deployment["config"], "keys", "create", env=deployment["env"])
    for url in [nginx.url, *(gw.url for gw in gws)]:
        _via(url, made["key"]).chat.completions.create(model=MODEL, messages=HI)
    cli(deployment["config"], "keys", "revoke", made["id"], env=deployment["env"])
    time.sleep(1.0)
    for url in [nginx.url, *(gw.url for gw in gws)]:
        client = _via(url, made["key"])
        for _ in range(4):  # both workers of each instance
            with pytest.raises(openai.AuthenticationError):
                client.chat.completions.create(model=MODEL, messages=HI)


def test_one_instance_stopping_loses_no_call(deployment: dict[str, Any]) -> None:
    """Last in this file: it stops an instance. nginx moves a refused connection on to
    the other instance, so callers see no error."""
    gws, nginx = deployment["gws"], deployment["nginx"]
    made = cli(deployment["config"], "keys", "create", env=deployment["env"])
    client = _via(nginx.url, made["key"])
    assert gws[0].stop() == 0  # SIGTERM: drains, then exits 0
    before = [_served(gws[1])]
    for _ in range(12):
        assert client.chat.completions.create(model=MODEL, messages=HI).choices
    assert _served_since(gws[1:], before, 12) == [12]


# ---------------------------------------------------------------- Dockerfile, compose


def _dockerfile() -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The Dockerfile's instructions (continuation lines joined) and its ARG defaults."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    steps = [(m.group(1).upper(), m.group(2).strip()) for m in
             re.finditer(r"^([A-Za-z]+)\s+(.*)$", text, re.M)]
    args = dict(re.findall(r'^ARG\s+(\w+)="([^"]*)"', text, re.M))
    return steps, args


def _build_stage() -> list[tuple[str, str]]:
    steps, _ = _dockerfile()
    froms = [i for i, (op, _) in enumerate(steps) if op == "FROM"]
    return steps[froms[0]:froms[1]]


def test_the_dockerfile_build_stage_installs_a_working_gateway(
        tmp_path: Path) -> None:
    """The build stage's RUN, in a folder holding only what its COPY lines copy."""
    _, args = _dockerfile()
    ctx = tmp_path / "src"
    ctx.mkdir()
    run = None
    for op, rest in _build_stage():
        if op == "COPY":
            src, dest = rest.split()
            listed = subprocess.run(["git", "ls-files", src], cwd=ROOT, capture_output=True,
                                    text=True, check=True).stdout.split()
            assert listed, f"the Dockerfile copies {src}, which the repository lacks"
            for name in listed:
                to = ctx / dest / Path(name).relative_to(src)
                to.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, to)
        elif op == "RUN":
            run = rest
    assert run is not None
    venv = tmp_path / "opt"
    script = run.replace("/opt/plugbay", str(venv)).replace("python -m venv",
                                                             f"{sys.executable} -m venv")
    done = subprocess.run(["bash", "-c", script], cwd=ctx, capture_output=True, text=True,
                          timeout=280, env={**os.environ, **args})
    assert done.returncode == 0, done.stderr[-3000:]
    plugins = args["PLUGINS"].split()
    probe = ("import plugbay.gateway.app, psycopg, redis\n"
             "from importlib.metadata import distribution as d\n"
             f"print(sorted(d('plugbay-' + p).metadata['Name'] for p in {plugins!r}))")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(sorted(f"plugbay-{p}" for p in plugins))


def test_dockerfile_compose_nginx_and_config_agree() -> None:
    yaml = pytest.importorskip("yaml")
    steps, args = _dockerfile()
    final = steps[[i for i, (op, _) in enumerate(steps) if op == "FROM"][1]:]
    kinds = dict(final)
    exposed = int(kinds["EXPOSE"])
    cmd = json.loads(kinds["CMD"])
    assert cmd[:2] == ["plugbay", "serve"]
    assert cmd[cmd.index("--port") + 1] == str(exposed)
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"  # reachable from outside the container
    config_in_image = cmd[cmd.index("--config") + 1]
    copies = [rest.split() for op, rest in final if op == "COPY" and "--from" not in rest]
    assert ["docs/deploy/plugbay.toml", config_in_image] in copies
    assert f"127.0.0.1:{exposed}/ready" in kinds["HEALTHCHECK"]
    assert kinds["USER"] not in ("root", "0")
    for name in args["PLUGINS"].split():
        assert (ROOT / "plugins" / name / "pyproject.toml").is_file(), name
    # the shipped config needs the gateway, a PostgreSQL ledger and Redis state
    assert {"gateway", "postgres", "redis"} <= set(args["EXTRAS"].split(","))

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"gateway", "postgres", "redis", "nginx"} <= set(services)
    gw = services["gateway"]
    assert (DEPLOY / gw["build"]["context"] / gw["build"]["dockerfile"]).resolve() \
        == DEPLOY / "Dockerfile"
    assert gw["deploy"]["replicas"] >= 2
    toml = re.sub(r"#.*", "", (DEPLOY / "plugbay.toml").read_text())  # values only
    needed = set(re.findall(r"\$\{(\w+)", toml)) | {"PLUGBAY_MASTER_KEY"}
    assert needed <= set(gw["environment"]), needed - set(gw["environment"])
    db = urllib.parse.urlsplit(gw["environment"]["PLUGBAY_DATABASE_URL"])
    pg_env = services["postgres"]["environment"]
    assert (db.hostname, db.username, db.path[1:]) == (
        "postgres", pg_env["POSTGRES_USER"], pg_env["POSTGRES_DB"])
    assert urllib.parse.urlsplit(gw["environment"]["PLUGBAY_REDIS_URL"]).hostname == "redis"
    grace = int(re.search(r"^grace\s*=\s*(\d+)", toml, re.M).group(1))  # type: ignore[union-attr]
    assert int(gw["stop_grace_period"].rstrip("s")) > grace

    ng = services["nginx"]
    mounted = {v.split(":")[0]: v.split(":")[1] for v in ng["volumes"]}
    assert mounted.get("./nginx.conf") == "/etc/nginx/nginx.conf"
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert re.search(rf"server\s+gateway:{exposed}\b", nginx)
    listen = re.search(r"listen\s+(\d+);", nginx).group(1)  # type: ignore[union-attr]
    assert any(p.endswith(f":{listen}") for p in ng["ports"])
    max_body = int(re.search(r"^max_body\s*=\s*(\d+)", toml, re.M).group(1))  # type: ignore[union-attr]
    size = re.search(r"client_max_body_size\s+(\d+)m;", nginx).group(1)  # type: ignore[union-attr]
    assert int(size) * 1024 * 1024 >= max_body
    assert "proxy_buffering off;" in nginx  # SSE events pass as they come
