"""Dated, sourced price tables that plugins ship as ``prices.toml``.

Format (USD per million tokens unless ``currency`` says otherwise)::

    as_of = 2026-11-01                       # when the prices were read
    source = "https://example.com/pricing"   # where

    [models."model-id"]
    input = 2.5
    output = 10.0
    cached_input = 1.25                      # optional; also cache_write, reasoning
    context_window = 128000                  # optional model facts
    max_output_tokens = 16384
    capabilities = ["tools", "vision", "json_schema", "reasoning"]
    aliases = ["model-id-2024-08-06"]
    as_of = 2026-10-01                       # optional per-model date/source
    source = "https://..."

A model missing from the table has price ``None``, never 0. A dated snapshot id
(``gpt-4o-2024-08-06``) falls back to its undated entry.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any

from plugbay.errors import ConfigError

if TYPE_CHECKING:
    from plugbay.types import ModelInfo, Price

__all__ = ["PriceTable", "configured_price"]

_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4}|\d{8}|latest)$")
_PRICE_KEYS = ("input", "output", "cached_input", "cache_write", "reasoning")
_CAPS = {"tools": "supports_tools", "vision": "supports_vision",
         "json_schema": "supports_json_schema", "reasoning": "supports_reasoning",
         "streaming": "supports_streaming"}


class PriceTable:
    """A plugin's price and model table."""

    def __init__(self, data: dict[str, Any], *, origin: str = "<table>") -> None:
        self.origin = origin
        try:
            self.as_of: dt.date = _date(data["as_of"])
            self.source: str = str(data["source"])
        except KeyError as exc:
            raise ConfigError(f"price table needs {exc.args[0]!r}", file=origin) from None
        self.currency: str = data.get("currency", "USD")
        # provider batch job discount (a fraction of the rates), table-wide unless a row says
        self.batch: float | None = data.get("batch")
        self.batch_source: str | None = data.get("batch_source")
        self.models: dict[str, dict[str, Any]] = dict(data.get("models", {}))
        self._aliases = {a: mid for mid, row in self.models.items() for a in row.get("aliases", ())}
        self._cache: dict[str, Price | None] = {}

    @classmethod
    def load(cls, package: str, filename: str = "prices.toml") -> PriceTable:
        """Read ``filename`` shipped inside ``package``."""
        from plugbay import _toml

        text = resources.files(package).joinpath(filename).read_text("utf-8")
        return cls(_toml.loads(text), origin=f"{package}/{filename}")

    @classmethod
    def for_package(cls, package: str, filename: str = "prices.toml") -> PriceTable:
        """The table shipped in ``package``, read once per process (it is immutable data)."""
        return _cached_table(package, filename)

    def row(self, model: str) -> dict[str, Any] | None:
        """The table row for ``model``, following aliases and snapshot suffixes."""
        if model in self.models:
            return self.models[model]
        if model in self._aliases:
            return self.models[self._aliases[model]]
        base = _SNAPSHOT.sub("", model)
        if base != model and base in self.models:
            return self.models[base]
        return None

    def price(self, model: str) -> Price | None:
        if model in self._cache:
            return self._cache[model]
        from plugbay.types import Price

        row = self.row(model)
        price = None
        if row is not None and row.get("input") is not None:
            price = Price(
                **{k: row.get(k) for k in _PRICE_KEYS},
                currency=row.get("currency", self.currency),
                as_of=_date(row.get("as_of", self.as_of)),
                source=str(row.get("source", self.source)),
                batch=row.get("batch", self.batch),
                batch_source=row.get("batch_source", self.batch_source),
            )
        self._cache[model] = price
        return price

    def info(self, model: str, provider: str) -> ModelInfo:
        """``ModelInfo`` from the table's facts (unknown facts stay ``None``)."""
        from plugbay.types import ModelInfo

        row = self.row(model) or {}
        caps = row.get("capabilities")
        flags: dict[str, Any] = {}
        if caps is not None:
            flags = {field: name in caps for name, field in _CAPS.items() if name != "streaming"}
            flags["supports_streaming"] = "no_streaming" not in caps
        return ModelInfo(
            id=model,
            provider=provider,
            display_name=row.get("display_name"),
            context_window=row.get("context_window"),
            max_output_tokens=row.get("max_output_tokens"),
            **flags,
        )

    def model_infos(self, provider: str) -> list[ModelInfo]:
        return [self.info(m, provider) for m in self.models]


def configured_price(options: Mapping[str, Any], model: str, *, provider: str) -> Price | None:
    """A price from the instance's own ``prices`` option, for gateways and self-hosted servers.

    ``[providers.local.prices."*"] input = 0`` prices every model; a model's own row wins.
    ``as_of`` defaults to today and ``source`` to the config table. No row means ``None``.
    """
    rows = options.get("prices")
    if not isinstance(rows, Mapping):
        return None
    row = rows.get(model, rows.get("*"))
    if not isinstance(row, Mapping) or row.get("input") is None:
        return None
    from plugbay.types import Price

    try:
        return Price(
            **{k: row.get(k) for k in _PRICE_KEYS},
            currency=row.get("currency", "USD"),
            as_of=_date(row.get("as_of", dt.date.today())),
            source=str(row.get("source", f"plugbay config [providers.{provider}.prices]")),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid price for {model!r}: {exc}",
                          key=f"providers.{provider}.prices") from None


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


@functools.cache
def _cached_table(package: str, filename: str) -> PriceTable:
    return PriceTable.load(package, filename)
