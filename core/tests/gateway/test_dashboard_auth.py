"""The dashboard refuses whoever has not shown the master key, and every form posted
without its CSRF token; the session cookie is HttpOnly and SameSite=Strict."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from _gateway_support import MASTER, GatewayProcess, write_config

from plugbay.testing.server import FakeServer

pytestmark = pytest.mark.timeout(90)
PAGES = ["/ui", "/ui/spend", "/ui/spend?format=csv", "/ui/keys", "/ui/routes", "/ui/calls",
         "/ui/static/copy.js"]
ADMIN = ["/admin/keys", "/admin/keys/abc", "/admin/keys/abc/spend"]


@pytest.fixture(scope="module")
def gw(upstream: FakeServer, tmp_path_factory: pytest.TempPathFactory,
       ) -> Iterator[GatewayProcess]:
    home = tmp_path_factory.mktemp("ui")
    g = GatewayProcess(write_config(home / "plugbay.toml", upstream.url,
                                    f'[ledger]\npath = "{home / "ledger.db"}"\n'))
    yield g
    g.stop()


def request(gw: GatewayProcess, method: str, path: str, body: dict[str, str] | None = None,
            headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(urlsplit(gw.url).netloc, timeout=20)
    data = urlencode(body).encode() if body is not None else None
    head = {"content-type": "application/x-www-form-urlencoded", **(headers or {})}
    conn.request(method, path, body=data, headers=head)
    resp = conn.getresponse()
    resp.read()
    return resp


def read(gw: GatewayProcess, path: str, cookie: str) -> str:
    conn = http.client.HTTPConnection(urlsplit(gw.url).netloc, timeout=20)
    conn.request("GET", path, headers={"cookie": cookie})
    resp = conn.getresponse()
    assert resp.status == 200, path
    return resp.read().decode()


def login(gw: GatewayProcess) -> str:
    """The session cookie, through the login form and its CSRF token."""
    conn = http.client.HTTPConnection(urlsplit(gw.url).netloc, timeout=20)
    conn.request("GET", "/ui/login")
    resp = conn.getresponse()
    page = resp.read().decode()
    nonce = resp.getheader("set-cookie", "").split(";")[0]
    token = re.search(r'name=csrf value="([0-9a-f]+)"', page)
    assert token and nonce.startswith("plugbay_login=")
    resp = request(gw, "POST", "/ui/login", {"csrf": token.group(1), "key": MASTER},
                   {"cookie": nonce})
    assert resp.status == 303
    session = [c for c in resp.headers.get_all("set-cookie") or []
               if c.startswith("plugbay_session=") and "Max-Age=0" not in c]
    assert session, resp.headers
    assert "HttpOnly" in session[0] and "SameSite=Strict" in session[0]
    assert "Secure" not in session[0]  # plain HTTP here; on TLS the cookie is Secure
    return session[0].split(";")[0]


def test_without_the_master_key_nothing_is_shown(gw: GatewayProcess) -> None:
    for path in PAGES:
        resp = request(gw, "GET", path)
        assert resp.status == 303 and resp.getheader("location") == "/ui/login", path
    for path in ["/ui/keys", "/ui/keys/abc/revoke", "/ui/logout"]:
        assert request(gw, "POST", path, {"name": "x"}).status == 401, path
    for path in ADMIN:
        assert request(gw, "GET", path).status == 401, path
    assert request(gw, "POST", "/admin/keys", {}).status == 401
    bad = {"cookie": "plugbay_session=1999999999.forged"}
    assert request(gw, "GET", "/ui/keys", headers=bad).status == 303
    wrong = {"authorization": "Bearer not-the-master-key-at-all"}
    assert request(gw, "GET", "/ui", headers=wrong).status == 303
    assert request(gw, "GET", "/admin/keys", headers=wrong).status == 401


def test_a_wrong_key_at_the_login_is_refused(gw: GatewayProcess) -> None:
    conn = http.client.HTTPConnection(urlsplit(gw.url).netloc, timeout=20)
    conn.request("GET", "/ui/login")
    resp = conn.getresponse()
    token = re.search(r'name=csrf value="([0-9a-f]+)"', resp.read().decode())
    nonce = resp.getheader("set-cookie", "").split(";")[0]
    assert token
    resp = request(gw, "POST", "/ui/login", {"csrf": token.group(1), "key": "guess" * 5},
                   {"cookie": nonce})
    assert resp.status == 401 and not resp.getheader("set-cookie", "").startswith(
        "plugbay_session")


def test_forms_without_their_csrf_token_are_refused(gw: GatewayProcess) -> None:
    # the login form itself: no token, or a token for another browser's nonce
    assert request(gw, "POST", "/ui/login", {"key": MASTER}).status == 403
    assert request(gw, "POST", "/ui/login", {"key": MASTER, "csrf": "0" * 64},
                   {"cookie": "plugbay_login=abc"}).status == 403
    cookie = login(gw)
    keys_before = read(gw, "/ui/keys", cookie).count("<tr>")
    for body in ({"name": "no-token"}, {"name": "bad-token", "csrf": "f" * 64}):
        resp = request(gw, "POST", "/ui/keys", body, {"cookie": cookie})
        assert resp.status == 403
    assert read(gw, "/ui/keys", cookie).count("<tr>") == keys_before  # nothing created
    page = read(gw, "/ui/keys", cookie)
    token = re.search(r'name=csrf value="([0-9a-f]+)"', page)
    assert token
    resp = request(gw, "POST", "/ui/keys", {"name": "with-token", "csrf": token.group(1)},
                   {"cookie": cookie})
    assert resp.status == 200
    assert "with-token" in read(gw, "/ui/keys", cookie)


def test_every_page_answers_with_a_session_and_with_the_master_key(
        gw: GatewayProcess) -> None:
    cookie = login(gw)
    for path in PAGES:
        assert request(gw, "GET", path, headers={"cookie": cookie}).status == 200, path
        assert request(gw, "GET", path, headers={"authorization": f"Bearer {MASTER}"}
                       ).status == 200, path
    resp = request(gw, "GET", "/ui/keys", headers={"cookie": cookie})
    policy = resp.getheader("content-security-policy") or ""
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert resp.getheader("x-frame-options") == "DENY"


def test_ledger_off_no_dashboard(upstream: FakeServer, tmp_path: Path) -> None:
    g = GatewayProcess(write_config(tmp_path / "plugbay.toml", upstream.url,
                                    '[ledger]\nenabled = false\n'))
    try:
        assert request(g, "GET", "/ui").status == 404
    finally:
        g.stop()


def test_spend_exports_csv_and_logout_clears_the_cookie(gw: GatewayProcess) -> None:
    import csv
    import io
    import time

    from _gateway_support import openai_client

    with openai_client(gw) as client:
        client.chat.completions.create(model="openai/gpt-4o-mini",
                                       messages=[{"role": "user", "content": "hi"}])
    cookie = login(gw)
    rows: list[dict[str, str]] = []
    for _ in range(80):  # the ledger is written in the background
        text = read(gw, "/ui/spend?by=model&format=csv", cookie)
        rows = list(csv.DictReader(io.StringIO(text)))
        if any(r["model"] == "openai/gpt-4o-mini" for r in rows):
            break
        time.sleep(0.1)
    row = next(r for r in rows if r["model"] == "openai/gpt-4o-mini")
    assert int(row["calls"]) >= 1 and float(row["cost"]) > 0
    token = re.search(r'name=csrf value="([0-9a-f]+)"', read(gw, "/ui", cookie))
    assert token
    resp = request(gw, "POST", "/ui/logout", {"csrf": token.group(1)}, {"cookie": cookie})
    assert resp.status == 303
    assert "Max-Age=0" in (resp.getheader("set-cookie") or "")


@pytest.mark.parametrize("log_prompts", [False, True])
def test_prompts_are_shown_only_when_prompt_logging_is_on(
        upstream: FakeServer, tmp_path: Path, log_prompts: bool) -> None:
    import time

    from _gateway_support import openai_client

    home = tmp_path
    g = GatewayProcess(write_config(
        home / "plugbay.toml", upstream.url,
        f'[ledger]\npath = "{home / "l.db"}"\nrecord_text = true\n\n'
        f"[gateway]\nlog_prompts = {'true' if log_prompts else 'false'}\n"))
    try:
        with openai_client(g) as client:
            client.chat.completions.create(
                model="openai/gpt-4o-mini",
                messages=[{"role": "user", "content": "the secret plan 4242"}])
        cookie = login(g)
        page = ""
        for _ in range(80):  # the ledger is written in the background
            page = read(g, "/ui/calls", cookie)
            if "gpt-4o-mini" in page:
                break
            time.sleep(0.1)
        assert "gpt-4o-mini" in page
        assert ("the secret plan 4242" in page) is log_prompts
        assert ("Prompts are hidden" in page) is not log_prompts
    finally:
        g.stop()
