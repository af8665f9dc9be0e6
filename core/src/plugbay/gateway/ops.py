"""Operations endpoints: ``GET /health`` (the process answers), ``GET /ready`` (the
ledger database and Redis answer too) and ``GET /metrics`` (Prometheus, through
``prometheus-client``; with several workers its multiprocess mode sums them, the
directory set up by ``plugbay serve``). Metric labels are the endpoint and status only:
never a key, a prompt or a provider credential.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

from plugbay.gateway.surfaces import ENDPOINTS, Answer

if TYPE_CHECKING:
    from plugbay.client import Client
    from plugbay.gateway.surfaces import Request

__all__ = ["Metrics", "Ops"]


class Metrics:
    """Request count and latency per endpoint and status."""

    paths = frozenset((*ENDPOINTS, "/health", "/ready", "/metrics"))

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.requests = Counter("plugbay_gateway_requests", "Requests answered",
                                ["path", "status"], registry=self.registry)
        self.latency = Histogram("plugbay_gateway_request_seconds",
                                 "Time to the last byte of the answer", ["path"],
                                 registry=self.registry,
                                 buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25,
                                          .5, 1, 2.5, 5, 10, 30, 60))
        self._counters: dict[tuple[str, int], Any] = {}
        self._timers: dict[str, Any] = {}

    def observe(self, path: str, status: int, seconds: float) -> None:
        # labels() costs ~5 us a call: each (path, status) child is looked up once
        counter = self._counters.get((path, status))
        if counter is None:
            counter = self._counters[(path, status)] = self.requests.labels(path, str(status))
        timer = self._timers.get(path)
        if timer is None:
            timer = self._timers[path] = self.latency.labels(path)
        counter.inc()
        timer.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        registry = self.registry
        if self.multiprocess:  # every worker's samples, summed
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST


class Ops:
    def __init__(self, client: Client, store: Any, metrics: Metrics) -> None:
        self.client, self.store, self.metrics = client, store, metrics

    async def handle(self, req: Request) -> Answer:
        if req.method == "GET" and req.path == "/health":
            return Answer(200, {"status": "ok"})
        if req.method == "GET" and req.path == "/ready":
            checks = await self.ready()
            ok = all(v == "ok" for v in checks.values())
            return Answer(200 if ok else 503, {"status": "ok" if ok else "unavailable",
                                               "checks": checks})
        if req.method == "GET" and req.path == "/metrics":
            body, kind = self.metrics.render()
            return Answer(200, body, [(b"content-type", kind.encode())])
        return Answer(404, {"error": {"message": f"no endpoint {req.method} {req.path}",
                                      "type": "not_found_error", "param": None,
                                      "code": "unknown_url"}})

    async def ready(self) -> dict[str, str]:
        """Each dependency: ``ok`` or why not."""
        checks: dict[str, str] = {}
        if self.store is not None:
            try:
                await asyncio.wait_for(asyncio.to_thread(self.store.db.version), 2.0)
                checks["ledger"] = "ok"
            except Exception as exc:
                checks["ledger"] = f"{type(exc).__name__}: {exc}"[:200]
            shared = self.store.shared
            if shared is not None:
                try:
                    await shared.run(lambda redis: redis.ping())
                    checks["redis"] = "ok"
                except Exception as exc:
                    checks["redis"] = f"{type(exc).__name__}: {exc}"[:200]
        return checks
