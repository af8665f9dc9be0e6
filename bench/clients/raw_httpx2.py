"""Floor: the raw httpx client code, run on the ``httpx2`` package."""

from __future__ import annotations

from _common import main
from raw_httpx import HttpxRaw


class Httpx2Raw(HttpxRaw):
    dist = "httpx2"
    module = "httpx2"


if __name__ == "__main__":
    main(Httpx2Raw)
