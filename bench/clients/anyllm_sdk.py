"""any-llm (``any-llm-sdk``): one ``AnyLLM`` openai provider instance with ``api_base``."""

from __future__ import annotations

from _common import API_KEY, MODEL, PROMPT, Adapter, main

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from typing import Any

MESSAGES = [{"role": "user", "content": PROMPT}]


class AnyLLMSDK(Adapter):
    dist = "any-llm-sdk"

    def load(self) -> None:
        import any_llm  # type: ignore[import-not-found,unused-ignore]

        self.any_llm: Any = any_llm

    async def open(self, base_url: str) -> None:
        self.llm = self.any_llm.AnyLLM.create("openai", api_key=API_KEY, api_base=base_url)

    async def complete(self) -> str:
        r = await self.llm.acompletion(model=MODEL, messages=MESSAGES)
        text: str = r.choices[0].message.content
        return text

    async def stream(self) -> AsyncIterator[str]:
        s = await self.llm.acompletion(model=MODEL, messages=MESSAGES, stream=True)
        async for chunk in s:
            if chunk.choices and (text := chunk.choices[0].delta.content):
                yield text

    async def close(self) -> None:
        aclose = getattr(self.llm, "aclose", None)
        if aclose is not None:
            await aclose()


if __name__ == "__main__":
    main(AnyLLMSDK)
