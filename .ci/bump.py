"""Bump the version of every distribution that changed since the last release tag.

    .ci/bump patch|minor|major [--since REF] [--dry-run]

A distribution changed when a file under its folder (core/ or plugins/<name>/) differs
from REF (default: the newest tag, else the first commit). Its ``version`` in
pyproject.toml is bumped; when core's minor or major version moves, every plugin's
``plugbay>=X.Y,<X.Y+1`` range moves with it (and those plugins are bumped too). Prints
a table of what changed; --dry-run writes nothing.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSION = re.compile(r'^version = "(\d+)\.(\d+)\.(\d+)"$', re.M)
RANGE = re.compile(r'"plugbay>=(\d+)\.(\d+),<(\d+)\.(\d+)"')


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def since_ref(given: str | None) -> str:
    if given:
        return given
    try:
        return git("describe", "--tags", "--abbrev=0")
    except subprocess.CalledProcessError:
        return git("rev-list", "--max-parents=0", "HEAD").splitlines()[0]


def bumped(version: tuple[int, int, int], part: str) -> tuple[int, int, int]:
    major, minor, patch = version
    if part == "major":
        return major + 1, 0, 0
    if part == "minor":
        return major, minor + 1, 0
    return major, minor, patch + 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["patch", "minor", "major"])
    parser.add_argument("--since", help="git ref to compare with (default: the newest tag)")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    ref = since_ref(args.since)
    changed = set(git("diff", "--name-only", ref, "HEAD").splitlines())
    plugins = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))
    folders = [ROOT / "core", *plugins]
    texts = {f: (f / "pyproject.toml").read_text() for f in folders}
    rel = {f: f.relative_to(ROOT).as_posix() + "/" for f in folders}
    todo = {f for f in folders if any(c.startswith(rel[f]) for c in changed)}
    core = ROOT / "core"
    old_core = tuple(int(x) for x in VERSION.search(texts[core]).groups())  # type: ignore[union-attr]
    new_core = bumped(old_core, args.part) if core in todo else old_core  # type: ignore[arg-type]
    moved = new_core[:2] != old_core[:2]
    rows = []
    for f in folders:
        text = texts[f]
        m = VERSION.search(text)
        if m is None:
            print(f"bump: no version in {rel[f]}pyproject.toml", file=sys.stderr)
            return 2
        if f is not core and moved and RANGE.search(text):
            low, high = f"{new_core[0]}.{new_core[1]}", f"{new_core[0]}.{new_core[1] + 1}"
            text = RANGE.sub(f'"plugbay>={low},<{high}"', text)
            todo.add(f)
        if f not in todo:
            continue
        old = tuple(int(x) for x in m.groups())
        new = new_core if f is core else bumped(old, args.part)  # type: ignore[arg-type]
        text = VERSION.sub(f'version = "{new[0]}.{new[1]}.{new[2]}"', text, count=1)
        rows.append((rel[f].rstrip("/"), ".".join(map(str, old)), ".".join(map(str, new))))
        if not args.dry_run:
            (f / "pyproject.toml").write_text(text)
    print(f"changes since {ref[:12]}: {len(rows)} of {len(folders)} distributions")
    for name, old, new in rows:
        print(f"  {name:28} {old:>8} -> {new}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
