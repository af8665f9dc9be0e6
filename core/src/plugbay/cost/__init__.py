"""Cost control in one place: what a call costs, what was spent, and what may be spent.

- ``prices``     dated, sourced price tables (``PriceTable``) and config overrides
- ``ledger/``    one row per call: SQLite (default) or PostgreSQL, written in the background
- ``budgets/``   spend limits per scope and period: reserve before a call, settle after
- ``ratelimit``  requests and tokens per minute, adapting to the provider's headers
- ``stats``      live per-provider counters and latency percentiles (``client.stats()``)
- ``shared/``    the Redis backend that lets many processes share budgets and limits
- ``control``    builds all of the above from one config (``CostControl``)

The pipeline's admission and metering layers use these; nothing here imports a layer,
the router or the client.
"""
