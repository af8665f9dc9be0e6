"""Refuse bad names before anything is written: cookiecutter runs this file as a script.

``plugbay.scaffold`` also imports it (unrendered) to check the same rules before it
starts cookiecutter, so ``validate`` and ``find_workspace`` must stay plain Python.
"""

from __future__ import annotations

import keyword
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROVIDER = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
ENV_VAR = re.compile(r"[A-Z_][A-Z0-9_]{0,39}")
HEADER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,39}")
URL = re.compile(r"https?://[^\s\"'\\{}<>]+")
AUTH_STYLES = ("bearer", "header", "none")
FLAVOURS = ("openai-compatible", "custom")
# Text that is pasted into Python strings, TOML and Markdown must not break out of them.
UNSAFE_TEXT = re.compile(r"[\"\\{}\x00-\x1f]")
WORKSPACE_NAME = re.compile(r'^name\s*=\s*"plugbay-workspace"', re.MULTILINE)


def find_workspace(start: Path) -> Path | None:
    """The plugbay repository containing ``start`` (its workspace pyproject.toml), if any."""
    start = start.resolve()
    for parent in (start, *start.parents):
        pyproject = parent / "pyproject.toml"
        try:
            if pyproject.is_file() and WORKSPACE_NAME.search(pyproject.read_text("utf-8")):
                return parent
        except OSError:
            continue
    return None


def validate(values: Mapping[str, Any], *, output_dir: Path | None = None,
             project_dir: Path | None = None) -> str | None:
    """The first problem with ``values`` as one line, or None when they are fine."""
    provider = str(values.get("provider", ""))
    if not PROVIDER.fullmatch(provider) or len(provider) > 30:
        return (f"provider name {provider!r} is not valid: use up to 30 lowercase letters, "
                "digits and single dashes, starting with a letter (e.g. 'acme-cloud')")
    module = "plugbay_" + provider.replace("-", "_")
    if not module.isidentifier() or keyword.iskeyword(module):
        return f"module name {module!r} is not a valid Python identifier"
    for field in ("display_name", "author"):
        text = str(values.get(field, ""))
        if not text.strip() or len(text) > 40 or UNSAFE_TEXT.search(text):
            return (f"{field.replace('_', ' ')} {text!r} must be 1 to 40 characters, without "
                    "quotes, backslashes, braces or control characters")
    base_url = str(values.get("base_url", ""))
    if not URL.fullmatch(base_url) or len(base_url) > 75:
        return f"base URL {base_url!r} must be an http(s):// URL of at most 75 characters"
    auth = str(values.get("auth", ""))
    if auth not in AUTH_STYLES:
        return f"auth style {auth!r} must be one of {', '.join(AUTH_STYLES)}"
    if not ENV_VAR.fullmatch(str(values.get("api_key_env", ""))):
        return (f"API key variable {values.get('api_key_env')!r} must be an environment "
                "variable name (up to 40 uppercase letters, digits, underscores)")
    if auth == "header" and not HEADER.fullmatch(str(values.get("auth_header", ""))):
        return f"auth header {values.get('auth_header')!r} is not a valid HTTP header name"
    flavour = str(values.get("flavour", ""))
    if flavour not in FLAVOURS:
        return f"flavour {flavour!r} must be one of {', '.join(FLAVOURS)}"
    if output_dir is not None:
        return clash(provider, output_dir, project_dir)
    return None


def clash(provider: str, output_dir: Path, project_dir: Path | None = None) -> str | None:
    """A plugin of that name already in the repository around ``output_dir``."""
    root = find_workspace(output_dir)
    if root is None:
        return None
    existing = root / "plugins" / provider
    # cookiecutter creates the (empty) project directory before it runs this hook.
    fresh = project_dir is not None and existing.resolve() == project_dir.resolve() \
        and not any(existing.iterdir())
    if existing.exists() and not fresh:
        return f"plugins/{provider} already exists in {root}: pick another provider name"
    page = root / "docs" / "providers" / f"{provider}.md"
    if page.exists() and (output_dir.resolve() == (root / "plugins").resolve()):
        return f"docs/providers/{provider}.md already exists in {root}: pick another name"
    return None


def main(context: Mapping[str, Any]) -> int:
    output_dir = Path(str(context.get("_output_dir") or ".."))
    problem = validate(context, output_dir=output_dir, project_dir=Path.cwd())
    if problem:
        sys.stderr.write(f"error: {problem}\n")
        return 1
    return 0


if __name__ == "__main__":
    null, true, false = None, True, False  # the JSON below is read as a Python literal
    sys.exit(main({{ cookiecutter | jsonify }}))  # noqa: F821 (rendered by cookiecutter)
