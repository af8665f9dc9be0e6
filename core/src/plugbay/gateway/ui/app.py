"""``Dashboard.handle``: every ``/ui`` request, authenticated (``auth.Guard``), answered
with a page, a redirect, a CSV or the copy script. Plain ASGI, as the gateway."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, quote

from plugbay.gateway.ui import keys, pages
from plugbay.gateway.ui.auth import LOGIN, SESSION, Guard, cookie
from plugbay.gateway.ui.html import e, page

__all__ = ["Dashboard", "View"]

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_HTML = (b"content-type", b"text/html; charset=utf-8")
_SAFE = [(b"cache-control", b"no-store"), (b"x-frame-options", b"DENY"),
         (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
         (b"content-security-policy",
          b"default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; "
          b"img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")]
_TITLES = {"/ui": "Overview", "/ui/spend": "Spend over time", "/ui/keys": "Keys",
           "/ui/routes": "Routes and providers", "/ui/calls": "Recent calls"}


@dataclass
class View:
    """What a page reads: the gateway's client and key store, the ledger's reports."""

    client: Any
    store: Any
    report: Any
    csrf: str | None
    log_prompts: bool
    clock: Callable[[], float]

    async def usage(self, dim: str, since: float | None) -> list[Any]:
        return await asyncio.to_thread(lambda: self.report.usage(dim, since, None, "none",
                                                                 latency=False))

    async def key_names(self) -> dict[str, str]:
        names = {k.id: k.name or k.prefix for k in await self.store.list(revoked=True)}
        return {**names, "-": "(no virtual key)"}  # calls made with the master key


class Dashboard:
    def __init__(self, client: Any, store: Any, master_key: str, *, log_prompts: bool,
                 clock: Callable[[], float] = time.time) -> None:
        self.client, self.store, self.clock = client, store, clock
        self.guard = Guard(master_key, clock=clock)
        self.log_prompts = log_prompts
        self._report: Any = None

    def report(self) -> Any:
        if self._report is None:
            from plugbay.cost.ledger.report import Report

            self._report = Report(self.store.ledger_url, clock=self.clock)
        return self._report

    def close(self) -> None:
        if self._report is not None:
            self._report.close()

    async def handle(self, scope: Mapping[str, Any], headers: Mapping[str, str], body: bytes,
                     send: Send) -> int:
        """Answer one request; returns the status sent."""
        method, path = scope["method"], scope["path"].rstrip("/") or "/"
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        form = dict(parse_qsl(body.decode("utf-8", "replace"))) if method == "POST" else {}
        cookies = _cookies(headers.get("cookie", ""))
        secure = scope.get("scheme") == "https"
        if path == "/ui/login":
            return await self._login(method, form, cookies, secure, send)
        session = cookies.get(SESSION)
        signed_in = self.guard.session_ok(session)
        if not signed_in and not self.guard.bearer(headers):
            if method == "GET":
                return await _answer(send, 303, b"", [(b"location", b"/ui/login")])
            return await _answer(send, 401, _plain("sign in first: /ui/login"))
        if method == "POST" and not (self.guard.bearer(headers) and not signed_in) and \
                not self.guard.csrf_ok(session, form.get("csrf")):
            return await _answer(send, 403, _plain("refused: the form's CSRF token is "
                                                   "missing or wrong; reload the page"))
        view = View(self.client, self.store, self.report(),
                    self.guard.csrf(session) if signed_in and session else None,
                    self.log_prompts, self.clock)
        return await self._route(method, path, query, form, view, send, secure)

    async def _route(self, method: str, path: str, query: Mapping[str, str],
                     form: Mapping[str, str], view: View, send: Send, secure: bool) -> int:
        if method == "GET" and path == "/ui/static/copy.js":
            js = resources.files("plugbay.gateway.ui").joinpath("static/copy.js").read_bytes()
            return await _answer(send, 200, js, [(b"content-type", b"text/javascript")])
        if method == "POST" and path == "/ui/logout":
            return await _answer(send, 303, b"", [
                (b"location", b"/ui/login"),
                (b"set-cookie", cookie(SESSION, "", secure=secure, max_age=0))])
        if method == "GET" and path in _TITLES:
            if path == "/ui/spend":
                html, csv = await pages.spend(view, query)
                if csv is not None:
                    return await _answer(send, 200, csv.encode(), [
                        (b"content-type", b"text/csv; charset=utf-8"),
                        (b"content-disposition", b'attachment; filename="spend.csv"')])
            else:
                html = await self._page(path, view, query)
            return await self._html(send, 200, path, html, view)
        if method == "POST" and path.startswith("/ui/keys"):
            parts = path.split("/")[3:]
            out: str | None
            if not parts:
                out = await keys.create(view, form)
            elif len(parts) == 1:
                out = await keys.update(view, parts[0], form)
            elif len(parts) == 2 and parts[1] == "revoke":
                out = await keys.revoke(view, parts[0])
            else:
                return await _answer(send, 404, _plain(f"no page {path}"))
            if out is None:  # done: back to the list (a reload posts nothing again)
                return await _answer(send, 303, b"", [(b"location", b"/ui/keys")])
            return await self._html(send, 200, "/ui/keys", out, view)
        return await _answer(send, 404, _plain(f"no page {method} {path}"))

    async def _page(self, path: str, view: View, query: Mapping[str, str]) -> str:
        if path == "/ui":
            return await pages.overview(view)
        if path == "/ui/keys":
            return await keys.page(view)
        if path == "/ui/routes":
            return await pages.routes(view)
        return await pages.calls(view, query)

    async def _html(self, send: Send, status: int, path: str, html: str, view: View) -> int:
        return await _answer(send, status, page(_TITLES[path], path, html, view.csrf).encode(),
                             [_HTML])

    async def _login(self, method: str, form: Mapping[str, str], cookies: Mapping[str, str],
                     secure: bool, send: Send) -> int:
        if method == "POST":
            if not self.guard.login_ok(cookies.get(LOGIN), form.get("csrf")):
                return await _answer(send, 403, _plain("refused: the login form's CSRF token "
                                                       "is missing or wrong; reload it"))
            if self.guard.is_master(form.get("key", "")):
                return await _answer(send, 303, b"", [
                    (b"location", b"/ui"),
                    (b"set-cookie", cookie(SESSION, self.guard.issue(), secure=secure,
                                           max_age=self.guard.ttl)),
                    (b"set-cookie", cookie(LOGIN, "", secure=secure, max_age=0))])
            problem = "<p class=bad id=problem>That is not the master key.</p>"
            status = 401
        elif method == "GET":
            problem, status = "", 200
        else:
            return await _answer(send, 405, _plain("GET or POST"))
        nonce = cookies.get(LOGIN) or self.guard.nonce()
        body = (f"{problem}<form method=post action=/ui/login id=login><fieldset>"
                f'<input type=hidden name=csrf value="{e(self.guard.login_token(nonce))}">'
                "Master key (PLUGBAY_MASTER_KEY) <input type=password name=key size=40 "
                "autofocus> <button>Sign in</button></fieldset></form>")
        html = page("Sign in", "", body, None).encode()
        return await _answer(send, status, html, [
            _HTML, (b"set-cookie", cookie(LOGIN, quote(nonce), secure=secure))])


def _cookies(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out[name] = value
    return out


def _plain(text: str) -> bytes:
    return text.encode() + b"\n"


async def _answer(send: Send, status: int, body: bytes,
                  headers: list[tuple[bytes, bytes]] | None = None) -> int:
    head = list(headers or [])
    if body and not any(k == b"content-type" for k, _ in head):
        head.append((b"content-type", b"text/plain; charset=utf-8"))
    await send({"type": "http.response.start", "status": status, "headers": [*head, *_SAFE]})
    await send({"type": "http.response.body", "body": body})
    return status
