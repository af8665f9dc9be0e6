"""Floor: a raw httpx POST, the JSON parsed by hand (no SDK). Also serves httpx2."""

from __future__ import annotations

from _common import API_KEY, MODEL, PROMPT, Adapter, main

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from types import ModuleType
    from typing import Any


class HttpxRaw(Adapter):
    dist = "httpx"
    module = "httpx"

    def load(self) -> None:
        import importlib
        import json

        self.json = json
        self.httpx: ModuleType = importlib.import_module(self.module)

    async def open(self, base_url: str) -> None:
        self.url = base_url + "/chat/completions"
        self.headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        # Keep every connection of the 64-way run alive (httpx keeps 20 by default).
        limits = self.httpx.Limits(max_connections=100, max_keepalive_connections=100)
        self.client: Any = self.httpx.AsyncClient(limits=limits)

    def _body(self, stream: bool) -> bytes:
        doc: dict[str, object] = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}]}
        if stream:
            doc["stream"] = True
        return self.json.dumps(doc).encode()

    async def complete(self) -> str:
        r = await self.client.post(self.url, content=self._body(False), headers=self.headers)
        r.raise_for_status()
        text: str = self.json.loads(r.content)["choices"][0]["message"]["content"]
        return text

    async def stream(self) -> AsyncIterator[str]:
        loads = self.json.loads
        req = self.client.stream("POST", self.url, content=self._body(True), headers=self.headers)
        async with req as r:
            r.raise_for_status()
            async for line in r.aiter_lines():
                if not line.startswith("data: "):
                    continue
                payload = line[6:]
                if payload == "[DONE]":
                    break
                choices = loads(payload)["choices"]
                if choices and (text := choices[0]["delta"].get("content")):
                    yield text

    async def close(self) -> None:
        await self.client.aclose()


if __name__ == "__main__":
    main(HttpxRaw)
