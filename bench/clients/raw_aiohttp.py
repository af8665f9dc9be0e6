"""Floor: a raw aiohttp POST, the JSON parsed by hand (no SDK)."""

from __future__ import annotations

from _common import API_KEY, MODEL, PROMPT, Adapter, main

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from typing import Any


class AiohttpRaw(Adapter):
    dist = "aiohttp"

    def load(self) -> None:
        import json

        import aiohttp  # type: ignore[import-not-found,unused-ignore]

        self.json = json
        self.aiohttp: Any = aiohttp

    async def open(self, base_url: str) -> None:
        self.url = base_url + "/chat/completions"
        self.headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        self.session = self.aiohttp.ClientSession()

    def _body(self, stream: bool) -> bytes:
        doc: dict[str, object] = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}]}
        if stream:
            doc["stream"] = True
        return self.json.dumps(doc).encode()

    async def complete(self) -> str:
        async with self.session.post(self.url, data=self._body(False), headers=self.headers) as r:
            r.raise_for_status()
            doc = self.json.loads(await r.read())
        text: str = doc["choices"][0]["message"]["content"]
        return text

    async def stream(self) -> AsyncIterator[str]:
        async with self.session.post(self.url, data=self._body(True), headers=self.headers) as r:
            r.raise_for_status()
            loads = self.json.loads
            async for line in r.content:
                if not line.startswith(b"data: "):
                    continue
                payload = line[6:].strip()
                if payload == b"[DONE]":
                    break
                choices = loads(payload)["choices"]
                if choices and (text := choices[0]["delta"].get("content")):
                    yield text

    async def close(self) -> None:
        await self.session.close()


if __name__ == "__main__":
    main(AiohttpRaw)
