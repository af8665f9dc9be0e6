"""The layers of the call path, outermost first (see ``docs/architecture.md``):

1. host layers (``Client(layers=...)``, ``[pipeline] layers``, entry points ``plugbay.layers``)
2. ``cache``      exact-match response cache with single flight (``plugbay.cache``)
3. ``routing``    routes and agents: strategy, retries, failover, breakers, deadline
4. ``admission``  budgets and rate limits: reserve before an attempt, settle after
5. ``metering``   one ledger row, live stats and an OpenTelemetry span per attempt
6. ``dispatch``   the bottom: the owning plugin's hook, under the attempt's timeout

The client composes them once; none of them imports the client.
"""
