"""The gateway's ASGI application: one ``Client`` per worker process, with the virtual
keys layer first in its pipeline; every request authenticated, size-capped, given a
request id, logged without its prompt, and counted in the metrics.

Plain ASGI, no framework: the endpoints are a dict lookup (the choice and its figures are
in docs/gateway.md). uvicorn serves it (``plugbay.gateway.serve``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import orjson

from plugbay import errors
from plugbay.gateway.asgi_io import Receive, Scope, Send, send_answer, stream_answer, until_gone
from plugbay.gateway.keys.record import KeyPrincipal
from plugbay.gateway.keys.secret import MasterKey
from plugbay.gateway.ops import Metrics, Ops
from plugbay.gateway.settings import GatewaySettings
from plugbay.gateway.surfaces import Answer, Request, Streamed, Surfaces
from plugbay.gateway.wire_errors import Failure, failure

__all__ = ["Gateway", "check", "create_app"]

access = logging.getLogger("plugbay.gateway.access")
log = logging.getLogger("plugbay.gateway")

_RID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_MASTER = KeyPrincipal(None, {}, None)


class _TooLarge(Exception):
    pass


class Gateway:
    """The ASGI app. ``config``: a ``plugbay.toml`` path or mapping; ``env``: the
    environment (the master key, provider keys)."""

    def __init__(self, config: str | Path | Mapping[str, Any] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        from plugbay.client import Client
        from plugbay.config import load_config

        self.env = dict(os.environ if env is None else env)
        loaded = load_config(config, self.env)
        self.settings = GatewaySettings.read(loaded.model_extra.get("gateway"), self.env,
                                             file=loaded.source)
        self.store: Any = None
        self.traced = bool((loaded.model_extra.get("otel") or {}).get("enabled"))
        if self.traced:  # a missing package fails here, in `plugbay serve`'s check
            from plugbay.gateway import tracing

            tracing.check()
        layers: list[Any] = []
        if _ledger_on(loaded.model_extra):
            from plugbay.gateway.keys import KeyLayer, open_store

            self.store = open_store(loaded.model_extra, self.env)
            self.key_layer = KeyLayer(self.store, price_of=self._price_of)
            layers.append(self.key_layer)
        self.client = Client(loaded, env=self.env, layers=layers)
        self._master = MasterKey(self.settings.master_key)
        self.surfaces = Surfaces(self.client, tags=self._tags, allowed=self._allowed,
                                 models=self._models)
        self.routes = self.surfaces.endpoints()
        self.metrics = Metrics()
        self.ops = Ops(self.client, self.store, self.metrics)
        self.admin: Any = None
        if self.store is not None:
            from plugbay.gateway.keys import AdminAPI

            self.admin = AdminAPI(self.store, self.settings.master_key)
        self.dashboard: Any = None  # built on the first /ui request
        self._route_prices: dict[str, Any] = {}
        # Request ids: random per process, then a counter (no syscall per request).
        self._rid_prefix = os.urandom(8).hex()
        self._rids = itertools.count(1)
        self._listing: tuple[float, list[tuple[str, str]]] | None = None

    # ------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                if self.traced:  # calls have ended: their spans go out before the exit
                    from plugbay.gateway import tracing

                    await asyncio.to_thread(tracing.flush)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.dashboard is not None:
            self.dashboard.close()
        if self.store is not None:
            await self.key_layer.aclose()
            await self.store.aclose()

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method, path = scope["method"], scope["path"]
        # ASGI gives header names lower-cased already
        headers = {k.decode("latin-1"): v.decode("latin-1")
                   for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        rid = given if given and _RID.match(given) else f"{self._rid_prefix}{next(self._rids):x}"
        extra = [(b"x-request-id", rid.encode()), (b"request-id", rid.encode())]
        extra += self._cors(headers)
        status = 500
        try:
            if method == "OPTIONS" and self.settings.cors_origins:
                status = 204
                await send_answer(send, Answer(204, b""), extra)
                return
            body = await self._body(headers, receive)
            if path == "/ui" or path.startswith("/ui/"):
                status = await self._ui(scope, headers, body, send, extra)
                return
            req = Request(method, path, headers, body, rid)
            status = await self._dispatch(req, receive, send, extra)
        except _TooLarge:
            status = 413
            f = Failure(413, "invalid_request_error", "request_too_large",
                        f"request body over {self.settings.max_body} bytes "
                        "([gateway] max_body)")
            await send_answer(send, Answer(413, _render(f, path)), extra)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe(path if path in self.metrics.paths else "other", status,
                                 elapsed)
            if access.isEnabledFor(logging.INFO):
                access.info(orjson.dumps({"rid": rid, "method": method, "path": path,
                                          "status": status,
                                          "ms": round(elapsed * 1000, 2)}).decode())

    async def _body(self, headers: Mapping[str, str], receive: Receive) -> bytes:
        cap = self.settings.max_body
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > cap:
            raise _TooLarge
        parts = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                raise _TooLarge
            parts.append(chunk)
            if not message.get("more_body"):
                return b"".join(parts)

    async def _dispatch(self, req: Request, receive: Receive, send: Send,
                        extra: list[tuple[bytes, bytes]]) -> int:
        handler = self.routes.get((req.method, req.path))
        try:
            answer: Answer | Streamed | None
            if handler is not None:
                req.principal = await self._authenticate(req.headers)
                answer = await until_gone(handler(req), receive)
            elif req.path.startswith("/admin/"):
                answer = await self._admin(req)
            else:
                answer = await self.ops.handle(req)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not isinstance(exc, errors.PlugbayError):
                log.exception("gateway: %s %s failed (request %s)", req.method, req.path,
                              req.rid)
            f = failure(exc, openai=not req.path.startswith("/v1/messages"))
            answer = Answer(f.status, _render(f, req.path), f.headers)
        if answer is None:  # the client went away
            return 499
        if isinstance(answer, Streamed):
            await stream_answer(send, answer, extra, receive)
            return 200
        await send_answer(send, answer, extra)
        return answer.status

    # ------------------------------------------------------------ keys

    async def _authenticate(self, headers: Mapping[str, str]) -> KeyPrincipal:
        secret = headers.get("x-api-key") or ""
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            secret = auth[7:].strip()
        if not secret:
            raise errors.AuthenticationError(
                "no API key: send it as 'Authorization: Bearer <key>' or 'x-api-key'",
                code="missing_api_key")
        if self.store is not None:
            principal: KeyPrincipal = await self.store.authenticate(secret)
            return principal
        if self._master.matches(secret):
            return _MASTER
        raise errors.AuthenticationError("invalid API key", code="invalid_api_key")

    @staticmethod
    def _allowed(principal: KeyPrincipal | None, model: str) -> None:
        if principal is not None and not principal.allows(model):
            raise errors.PermissionDeniedError(
                f"this key may not call {model!r}", code="model_not_allowed")

    @staticmethod
    def _tags(principal: KeyPrincipal | None, metadata: Any) -> dict[str, str]:
        # The caller's metadata become ledger tags, but never "key": only the gateway says
        # which key made a call. (Not the request id either: the ledger's hourly sums
        # keep a row per tag value, and a value per call would defeat them.)
        tags = {str(k): str(v) for k, v in (metadata or {}).items() if k != "key"}
        if principal is not None:
            tags.update(principal.tags)
            if principal.key_id is not None:
                tags["key"] = principal.key_id
        return tags

    def _price_of(self, call: Any) -> Any:
        """The price a key's budget estimate uses: the target's, or for a route call the
        dearest of its targets' (an estimate must not undershoot)."""
        if call.target is not None:
            return call.target.price(call.request.model)
        name = call.route or call.model
        if name not in self._route_prices:
            route = self.client.router.resolve(name)
            prices = []
            for t in route.targets if route is not None else ():
                try:
                    prices.append(self.client.price(t.key))
                except errors.PlugbayError:
                    continue
            known = [p for p in prices if p is not None and p.input is not None
                     and p.output is not None]
            self._route_prices[name] = max(
                known, key=lambda p: (p.input or 0.0) + (p.output or 0.0), default=None)
        return self._route_prices[name]

    async def _models(self, principal: KeyPrincipal | None) -> list[tuple[str, str]]:
        now = time.monotonic()
        if self._listing is None or now - self._listing[0] > self.settings.models_ttl:
            listing = await self.client.amodels(timeout=5.0)
            names = [(f"{m.provider}/{m.id}", m.provider) for m in listing]
            names += [(r, "plugbay-route") for r in self.client.router.routes]
            names += [(f"agent:{a}", "plugbay-agent") for a in self.client.router.agents]
            self._listing = (now, names)
        return [(n, o) for n, o in self._listing[1]
                if principal is None or principal.allows(n)]

    async def _admin(self, req: Request) -> Answer:
        if req.path == "/admin/reload" and req.method == "POST":
            return await self._reload(req)
        if self.admin is None:
            return Answer(404, {"error": {
                "message": "virtual keys are off: the admin API needs a ledger database "
                           "([ledger] path or url)", "type": "not_found_error",
                "param": None, "code": None}})
        status, body = await self.admin.handle(req.method, req.path, req.headers, req.body)
        return Answer(status, body)

    async def _reload(self, req: Request) -> Answer:
        """Check the config file again, then have the supervisor replace every worker
        (SIGHUP): new workers serve before old ones stop, so no call is dropped."""
        principal = await self._authenticate(req.headers)
        if principal.key_id is not None:
            raise errors.PermissionDeniedError("reloading needs the master key")
        path = os.environ.get("PLUGBAY_GATEWAY_CONFIG")
        if os.environ.get("PLUGBAY_GATEWAY_SUPERVISED") != "1":
            return Answer(409, {"error": {"message": "not run by plugbay serve: nothing to "
                                          "reload", "type": "invalid_request_error",
                                          "param": None, "code": None}})
        try:
            await asyncio.to_thread(check, path, self.env)
        except errors.ConfigError as exc:  # the old config keeps serving
            return Answer(400, {"error": {"message": f"config not reloaded: {exc}",
                                          "type": "invalid_request_error", "param": None,
                                          "code": "bad_config"}})
        import signal

        os.kill(os.getppid(), signal.SIGHUP)
        return Answer(202, {"status": "reloading"})

    async def _ui(self, scope: Scope, headers: Mapping[str, str], body: bytes, send: Send,
                  extra: list[tuple[bytes, bytes]]) -> int:
        """The dashboard (``plugbay.gateway.ui``), on the key store's ledger database."""
        if self.store is None:
            f = Failure(404, "not_found_error", "not_found_error", "the dashboard needs "
                        "the ledger database ([ledger] path or url)")
            await send_answer(send, Answer(404, f.openai()), extra)
            return 404
        if self.dashboard is None:
            from plugbay.gateway.ui.app import Dashboard

            self.dashboard = Dashboard(self.client, self.store, self.settings.master_key,
                                       log_prompts=self.settings.log_prompts)

        async def with_extra(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], *extra]
            await send(message)
        status: int = await self.dashboard.handle(scope, headers, body, with_extra)
        return status

    def _cors(self, headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
        origin = headers.get("origin")
        allowed = self.settings.cors_origins
        if not origin or not allowed or (origin not in allowed and "*" not in allowed):
            return []
        return [(b"access-control-allow-origin", origin.encode()),
                (b"access-control-allow-headers", b"authorization, content-type, x-api-key"),
                (b"access-control-allow-methods", b"GET, POST, PATCH, DELETE, OPTIONS"),
                (b"vary", b"origin")]


def _ledger_on(sections: Mapping[str, Any]) -> bool:
    ledger = sections.get("ledger")
    return isinstance(ledger, Mapping) and ledger.get("enabled", True) is not False and bool(
        ledger.get("path") or ledger.get("url"))


def _render(f: Failure, path: str) -> dict[str, Any]:
    return f.anthropic() if path.startswith("/v1/messages") else f.openai()


def check(config: str | Path | None, env: Mapping[str, str]) -> GatewaySettings:
    """Load and check everything a worker will build (the file, ``[gateway]``, routes,
    the ledger and keys); ``ConfigError`` on the first problem, naming the file."""
    try:
        gateway = Gateway(config, env)
        try:
            gateway.client.router.resolve("")  # routes and agents compile now, not per worker
        finally:
            asyncio.run(gateway.aclose())
    except errors.ConfigError as exc:
        if exc.file is not None or config is None:
            raise
        raise errors.ConfigError(exc.reason, file=str(config), key=exc.key) from None
    return gateway.settings


def create_app() -> Any:
    """The app for ``uvicorn --factory``: the config named by ``PLUGBAY_GATEWAY_CONFIG``;
    with ``[otel] enabled``, inside OpenTelemetry's ASGI middleware (server spans)."""
    gateway = Gateway(os.environ.get("PLUGBAY_GATEWAY_CONFIG") or None)
    if not gateway.traced:
        return gateway
    from plugbay.gateway import tracing

    return tracing.wrap(gateway, gateway.env)
