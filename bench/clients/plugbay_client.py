"""plugbay, in named variants. Add a variant: one entry in VARIANTS (a config builder)
and one row in bench/runner.py's CLIENTS."""

from __future__ import annotations

from _common import API_KEY, PROMPT, Adapter, main

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from typing import Any

MODEL = "openai/gpt-4o-mini"


def _direct(base_url: str) -> dict[str, Any]:
    return {"providers": {"openai": {"api_key": API_KEY, "base_url": base_url}}}


VARIANTS: dict[str, Callable[[str], dict[str, Any]]] = {
    "direct": _direct,
    # "route": ...   (a route in front of openai, when routes land)
    # "ledger": ...  (direct with the ledger on, when the ledger lands)
}


class Plugbay(Adapter):
    dist = "plugbay"

    def load(self) -> None:
        import plugbay

        self.plugbay: Any = plugbay  # exactly `import plugbay`: its names load lazily

    async def open(self, base_url: str) -> None:
        if not hasattr(self.plugbay, "Client"):
            raise ImportError("plugbay.Client is not available yet")
        config = VARIANTS[self.variant or "direct"](base_url)
        self.client = self.plugbay.Client(config=config)

    async def complete(self) -> str:
        c = await self.client.acomplete(MODEL, PROMPT)
        text: str = c.text
        return text

    async def stream(self) -> AsyncIterator[str]:
        async with self.client.astream(MODEL, PROMPT) as s:
            async for ev in s:
                if ev.type == "text" and ev.text:
                    yield ev.text

    async def close(self) -> None:
        await self.client.aclose()

    def version(self) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"{version('plugbay')} (openai plugin {version('plugbay-openai')})"
        except PackageNotFoundError:
            return version("plugbay")


if __name__ == "__main__":
    main(Plugbay)
