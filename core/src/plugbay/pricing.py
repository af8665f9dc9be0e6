"""Price tables for plugins: ``PriceTable`` and ``configured_price``.

The public path plugin authors import; the code lives in ``plugbay.cost.prices``."""

from plugbay.cost.prices import PriceTable, configured_price

__all__ = ["PriceTable", "configured_price"]
