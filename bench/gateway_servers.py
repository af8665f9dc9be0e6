"""How the gateway's server was chosen: the same small JSON answer served by uvicorn
(uvloop + httptools) with plain ASGI, by uvicorn with Starlette on top, and by granian
with plain ASGI, one worker each, loaded by wrk on loopback. Prints requests/s and the
p50 and p99 latency of each; the figures are in docs/gateway.md ("Choosing the server").

    python bench/gateway_servers.py --seconds 5     # needs uvicorn, starlette, granian, wrk
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

APP = '''
import json
BODY = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": "Hello"},
     "finish_reason": "stop"}]}).encode()
HEAD = [(b"content-type", b"application/json")]

async def plain(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": HEAD})
    await send({"type": "http.response.body", "body": BODY})

def starlette():
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def chat(request):
        await request.body()
        return Response(BODY, media_type="application/json")
    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST", "GET"])])
'''

SERVERS = {
    "uvicorn + plain ASGI": ["-m", "uvicorn", "app:plain", "--loop", "uvloop", "--http",
                             "httptools", "--no-access-log", "--log-level", "warning"],
    "uvicorn + Starlette": ["-m", "uvicorn", "app:starlette", "--factory", "--loop", "uvloop",
                            "--http", "httptools", "--no-access-log", "--log-level", "warning"],
    "granian + plain ASGI": ["-m", "granian", "--interface", "asgi", "--loop", "uvloop",
                             "--no-log", "app:plain"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(url: str) -> None:
    for _ in range(400):
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.025)
    raise RuntimeError(f"{url} did not answer")


def run(name: str, args: list[str], seconds: int, where: Path) -> str:
    port = free_port()
    flags = ["--port", str(port)] + (["--host", "127.0.0.1"] if "uvicorn" in args[1] else [])
    proc = subprocess.Popen([sys.executable, *args, *flags], cwd=where,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        wait(url)
        out = subprocess.run(["wrk", "-t1", "-c32", f"-d{seconds}s", "--latency", url],
                             capture_output=True, text=True, check=True).stdout
    finally:
        proc.terminate()
        proc.wait(10)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    return f"| {name} | {rps:,.0f} | {p50} | {p99} |"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    args = ap.parse_args()
    where = Path(tempfile.mkdtemp(prefix="plugbay-servers-"))
    (where / "app.py").write_text(APP)
    print("| server (1 worker, wrk -c32) | requests/s | p50 | p99 |")
    print("|---|---|---|---|")
    for name, cmd in SERVERS.items():
        print(run(name, cmd, args.seconds, where), flush=True)


if __name__ == "__main__":
    main()
