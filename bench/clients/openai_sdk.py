"""The official ``openai`` SDK: AsyncOpenAI pointed at the upstream with ``base_url``."""

from __future__ import annotations

from _common import API_KEY, MODEL, PROMPT, Adapter, main

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from typing import Any

MESSAGES = [{"role": "user", "content": PROMPT}]


class OpenAISDK(Adapter):
    dist = "openai"

    def load(self) -> None:
        import openai  # type: ignore[import-not-found,unused-ignore]

        self.openai: Any = openai

    async def open(self, base_url: str) -> None:
        self.client = self.openai.AsyncOpenAI(api_key=API_KEY, base_url=base_url)

    async def complete(self) -> str:
        r = await self.client.chat.completions.create(model=MODEL, messages=MESSAGES)
        text: str = r.choices[0].message.content
        return text

    async def stream(self) -> AsyncIterator[str]:
        s = await self.client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        async with s:
            async for chunk in s:
                if chunk.choices and (text := chunk.choices[0].delta.content):
                    yield text

    async def close(self) -> None:
        await self.client.close()


if __name__ == "__main__":
    main(OpenAISDK)
