"""LiteLLM's ``acompletion`` with ``api_base``. The harness sets
LITELLM_LOCAL_MODEL_COST_MAP=True so its import does not try to fetch the cost map."""

from __future__ import annotations

from _common import API_KEY, PROMPT, Adapter, main

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from typing import Any

MESSAGES = [{"role": "user", "content": PROMPT}]
MODEL = "openai/gpt-4o-mini"


class LiteLLM(Adapter):
    dist = "litellm"

    def load(self) -> None:
        import litellm  # type: ignore[import-not-found,unused-ignore]

        self.litellm: Any = litellm

    async def open(self, base_url: str) -> None:
        self.kw = {"api_base": base_url, "api_key": API_KEY}

    async def complete(self) -> str:
        r = await self.litellm.acompletion(model=MODEL, messages=MESSAGES, **self.kw)
        text: str = r.choices[0].message.content
        return text

    async def stream(self) -> AsyncIterator[str]:
        s = await self.litellm.acompletion(model=MODEL, messages=MESSAGES, stream=True, **self.kw)
        async for chunk in s:
            if chunk.choices and (text := chunk.choices[0].delta.content):
                yield text

    async def close(self) -> None:
        # Nothing to close: litellm caches its HTTP clients for the whole process, and
        # closing them (close_litellm_async_clients) breaks the next phase of a load
        # process; the process ends right after its measurements (os._exit).
        pass


if __name__ == "__main__":
    main(LiteLLM)
