"""Build, check and smoke-install every distribution; upload them unless --dry-run.

    .ci/release --dry-run      # what CI runs: everything but the upload
    .ci/release                # the same, then `uv publish` (trusted publishing in CI)

Per distribution: a wheel and an sdist in dist/; `twine check` (the metadata renders);
no .pth file in the wheel; py.typed and the licence file in the wheel; a plugin's
requirement on plugbay admits this core's version; and the wheel installs alone (with
core) in a fresh venv where `plugbay plugins` shows it loaded. One table at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from packaging.requirements import Requirement

from plugbay import _toml

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
UV = shutil.which("uv") or str(ROOT / ".venv" / "bin" / "uv")
COLUMNS = ["distribution", "version", "built", "twine", "no .pth", "py.typed", "licence",
           "plugbay range", "installs alone"]


def run(*args: str, cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env)


def projects() -> list[Path]:
    return [ROOT / "core", *sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))]


def meta(project: Path) -> dict[str, object]:
    with (project / "pyproject.toml").open("rb") as fh:
        return _toml.load(fh)["project"]  # type: ignore[no-any-return]


def build(project: Path) -> tuple[Path | None, Path | None, str]:
    out = DIST / project.name
    proc = run(UV, "build", "--quiet", "--out-dir", str(out), str(project))
    if proc.returncode != 0:
        return None, None, proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"
    wheel = next(out.glob("*.whl"), None)
    sdist = next(out.glob("*.tar.gz"), None)
    return wheel, sdist, "ok" if wheel and sdist else "missing wheel or sdist"


def check(project: Path, core_version: str, core_wheel: Path | None,
          built_as: tuple[Path | None, Path | None, str]) -> dict[str, str]:
    info = meta(project)
    name, version = str(info["name"]), str(info["version"])
    row = dict.fromkeys(COLUMNS, "-")
    row.update(distribution=name, version=version)
    wheel, sdist, built = built_as
    row["built"] = built
    if wheel is None or sdist is None:
        return row
    twine = run(sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist))
    said = (twine.stdout + twine.stderr).strip().splitlines() or ["failed"]
    row["twine"] = "ok" if twine.returncode == 0 else said[-1][:60]
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    with tarfile.open(sdist) as tf:
        in_sdist = any(Path(n).name.startswith("LICENSE") for n in tf.getnames())
    row["no .pth"] = "ok" if not any(n.endswith(".pth") for n in names) else "HAS .pth"
    row["py.typed"] = "ok" if any(n.endswith("/py.typed") for n in names) else "missing"
    in_wheel = any("/licenses/LICENSE" in n for n in names)
    row["licence"] = "ok" if in_wheel and in_sdist else "missing"
    needs = [Requirement(r) for r in info.get("dependencies", [])  # type: ignore[attr-defined]
             if Requirement(r).name == "plugbay"]
    if name == "plugbay":
        row["plugbay range"] = "(core)"
    elif not needs:
        row["plugbay range"] = "no plugbay requirement"
    else:
        spec = needs[0].specifier
        row["plugbay range"] = "ok" if spec.contains(core_version, prereleases=True) else (
            f"{spec} excludes {core_version}")
    row["installs alone"] = smoke(name, wheel, core_wheel)
    return row


def smoke(name: str, wheel: Path, core_wheel: Path | None) -> str:
    """Install the wheel (with core's) in a fresh venv; `plugbay plugins` must load it."""
    with tempfile.TemporaryDirectory(prefix="plugbay-release-") as tmp:
        venv = Path(tmp) / "venv"
        made = run(UV, "venv", "--quiet", "--python", sys.executable, str(venv))
        if made.returncode != 0:
            return "venv failed"
        wheels = [str(wheel)] if name == "plugbay" else [str(core_wheel), str(wheel)]
        # a plugin that builds on another (vertex reuses anthropic's and gemini's codecs)
        # gets it from this release's own wheels, as it would from the index after upload
        links = [arg for d in sorted(DIST.iterdir()) for arg in ("--find-links", str(d))]
        # uv caches a find-links wheel by name and version: without a refresh, a sibling
        # built by an earlier run of this same version would be installed instead
        fresh = [arg for w in DIST.glob("*/*.whl")
                 for arg in ("--refresh-package", w.name.split("-")[0].replace("_", "-"))]
        got = run(UV, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                  *links, *fresh, *wheels)
        if got.returncode != 0:
            return "install failed: " + (got.stderr.strip().splitlines() or ["?"])[-1]
        listed = run(str(venv / "bin" / "plugbay"), "plugins", "--json", cwd=Path(tmp))
        if listed.returncode != 0:
            return "plugbay plugins failed"
        states = {p["distribution"]: p["state"] for p in json.loads(listed.stdout)}
        if name == "plugbay":
            return "ok" if not states else f"unexpected plugins {sorted(states)}"
        return "ok" if states.get(name) == "loaded" else f"{states.get(name, 'not found')}"


def table(rows: list[dict[str, str]]) -> str:
    widths = [max(len(c), *(len(r[c]) for r in rows)) for c in COLUMNS]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(COLUMNS), *(line([r[c] for c in COLUMNS]) for r in rows)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="everything but the upload")
    args = parser.parse_args()
    if DIST.exists():
        shutil.rmtree(DIST)
    core_version = str(meta(ROOT / "core")["version"])
    with ThreadPoolExecutor(max_workers=4) as pool:
        # every wheel first: a plugin's lone install may need a sibling's (vertex)
        builds = dict(zip(projects(), pool.map(build, projects()), strict=True))
        core_wheel = builds[ROOT / "core"][0]
        rows = list(pool.map(lambda p: check(p, core_version, core_wheel, builds[p]),
                             projects()))
    print(table(rows))
    failed = [r["distribution"] for r in rows
              if any(r[c] not in ("ok", "(core)") for c in COLUMNS[2:])]
    if failed:
        print(f"release: {len(failed)} distribution(s) failed a check: {', '.join(failed)}")
        return 1
    files = sorted(str(p) for p in [*DIST.glob("*/*.whl"), *DIST.glob("*/*.tar.gz")])
    if args.dry_run:
        print(f"release (dry run): {len(rows)} distributions, {len(files)} files checked; "
              "nothing uploaded")
        return 0
    return run(UV, "publish", *files, timeout=1800).returncode


if __name__ == "__main__":
    sys.exit(main())
