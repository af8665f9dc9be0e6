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
    # The usage ledger is on by default; "direct" measures the call path without it.
    return {"providers": {"openai": {"api_key": API_KEY, "base_url": base_url}},
            "ledger": {"enabled": False}}


def _ledger(base_url: str) -> dict[str, Any]:
    import tempfile

    path = f"{tempfile.mkdtemp(prefix='plugbay-bench-')}/ledger.db"
    return {**_direct(base_url), "ledger": {"path": path}}


def _route(base_url: str) -> dict[str, Any]:
    # One route, priority strategy, in front of the same provider: the router's own cost.
    return {**_direct(base_url),
            "routes": {"smart": {"strategy": "priority", "targets": [MODEL]}}}


# variant -> (config builder, the model name the variant calls)
VARIANTS: dict[str, tuple[Callable[[str], dict[str, Any]], str]] = {
    "direct": (_direct, MODEL),
    "route": (_route, "smart"),
    "ledger": (_ledger, MODEL),
}


class Plugbay(Adapter):
    dist = "plugbay"

    def load(self) -> None:
        import plugbay

        self.plugbay: Any = plugbay  # exactly `import plugbay`: its names load lazily

    async def open(self, base_url: str) -> None:
        if not hasattr(self.plugbay, "Client"):
            raise ImportError("plugbay.Client is not available yet")
        build, self.model = VARIANTS[self.variant or "direct"]
        self.client = self.plugbay.Client(config=build(base_url))

    async def complete(self) -> str:
        c = await self.client.acomplete(self.model, PROMPT)
        text: str = c.text
        return text

    async def stream(self) -> AsyncIterator[str]:
        async with self.client.astream(self.model, PROMPT) as s:
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
