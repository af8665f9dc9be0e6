"""The keys page: list with this month's spend, create (the secret shown once, with a
copy button), edit limits, revoke. Through the gateway's ``KeyStore``, as the admin API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from plugbay import errors
from plugbay.gateway.ui.html import e, money, table, when
from plugbay.gateway.ui.pages import by_key, periods

if TYPE_CHECKING:
    from plugbay.gateway.ui.app import View

__all__ = ["create", "page", "revoke", "update"]

_PERIODS = ("total", "daily", "monthly")


def _fields(form: Mapping[str, str], *, creating: bool) -> dict[str, Any]:
    """The form's fields as the store takes them; an empty box is no value."""
    out: dict[str, Any] = {}
    if creating and form.get("name", "").strip():
        out["name"] = form["name"].strip()
    for name, kind in (("budget", float), ("rpm", int), ("tpm", int)):
        text = form.get(name, "").strip()
        if text:
            try:
                out[name] = kind(text)
            except ValueError:
                raise errors.ConfigError(f"{name} must be a number (got {text!r})",
                                         key=name) from None
        elif name == "budget" and not creating and "budget" in form:
            out["budget"] = None
    if form.get("period") in _PERIODS and (creating or "budget" in out):
        out["period"] = form["period"]
    models = form.get("models", "").strip()
    if creating and models:
        out["models"] = [m.strip() for m in models.split(",") if m.strip()]
    return out


def _input(name: str, value: Any, size: int = 7) -> str:
    return f'<input name={name} size={size} value="{e("" if value is None else value)}">'


async def page(view: View, secret: tuple[str, str] | None = None, problem: str = "") -> str:
    keys = await view.store.list(revoked=True)
    month = by_key(await view.usage("tag:key", periods(view.clock())["this month"]))
    body = []
    if secret is not None:
        body.append(f"<div class=secret id=new-key>Key <b>{e(secret[0])}</b> created. Copy "
                    f"it now: it is not shown again.<br><code id=secret>{e(secret[1])}</code> "
                    "<button type=button id=copy data-copy=secret>Copy</button></div>"
                    "<script src=/ui/static/copy.js></script>")
    if problem:
        body.append(f"<p class=bad id=problem>{e(problem)}</p>")
    csrf = f'<input type=hidden name=csrf value="{e(view.csrf)}">'
    options = "".join(f"<option>{p}</option>" for p in _PERIODS)
    body.append("<h2>New key</h2><form method=post action=/ui/keys id=create><fieldset>"
                f"{csrf}Name {_input('name', '', 16)} Budget $ {_input('budget', '')} per "
                f"<select name=period>{options}</select> RPM {_input('rpm', '', 5)} TPM "
                f"{_input('tpm', '', 7)} Models {_input('models', '', 20)} "
                "<button>Create</button></fieldset></form>")
    rows = []
    for k in keys:
        spent = month.get(k.id)
        state = ("<span class=bad>revoked</span>" if k.revoked is not None else
                 "<span class=ok>active</span>")
        if k.revoked is None:
            sel = "".join(f"<option{' selected' if p == k.period else ''}>{p}</option>"
                          for p in _PERIODS)
            edit = (f"<form method=post action=/ui/keys/{e(k.id)} class=inline>{csrf}$ "
                    f"{_input('budget', k.budget)} <select name=period>{sel}</select> RPM "
                    f"{_input('rpm', k.rpm, 4)} TPM {_input('tpm', k.tpm, 6)} "
                    "<button>Save</button></form> "
                    f"<form method=post action=/ui/keys/{e(k.id)}/revoke class=inline>{csrf}"
                    "<button>Revoke</button></form>")
        else:
            edit = f"revoked {when(k.revoked)}"
        rows.append((f"<span id=key-{e(k.id)}>{e(k.prefix)}</span>", e(k.name or ""),
                     e(", ".join(k.models) if k.models else "all"),
                     money(spent.cost if spent else 0.0), str(spent.calls if spent else 0),
                     state, edit))
    body += ["<h2>Keys</h2>", table(("Key", "Name", "Models", "Spend this month", "Calls",
                                     "State", "Limits"), rows, numeric=(3, 4))]
    return "".join(body)


async def create(view: View, form: Mapping[str, str]) -> str:
    try:
        key, secret = await view.store.create(**_fields(form, creating=True))
    except errors.ConfigError as exc:
        return await page(view, problem=f"not created: {exc}")
    return await page(view, secret=(key.name or key.prefix, secret))


async def update(view: View, key_id: str, form: Mapping[str, str]) -> str | None:
    try:
        key = await view.store.update(key_id, **_fields(form, creating=False))
    except errors.ConfigError as exc:
        return await page(view, problem=f"not saved: {exc}")
    return None if key is not None else await page(view, problem=f"no key {key_id}")


async def revoke(view: View, key_id: str) -> str | None:
    key = await view.store.revoke(key_id)
    return None if key is not None else await page(view, problem=f"no key {key_id}")
