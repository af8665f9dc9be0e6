"""``plugbay new-plugin``: start a provider plugin from the cookiecutter template.

cookiecutter is optional (``pip install plugbay[scaffold]``) and imported only when
the command runs. The template ships inside the wheel as ``plugbay/_template``; in a
source checkout it is the repository's ``template/`` (core/hatch_build.py puts it in both
the sdist and the wheel). Inside the plugbay repository
the plugin goes to ``plugins/<name>``, elsewhere into the current directory.

Names are checked before anything is written by the template's own pre-generation
hook (loaded here as a module), so the rules live in one place and the command
fails with one line instead of a half-written plugin.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from plugbay.errors import PlugbayError

__all__ = ["ScaffoldError", "add_parser", "new_plugin", "template_dir"]

# command-line option -> template variable
OPTIONS = {"name": "provider", "display_name": "display_name", "base_url": "base_url",
           "auth": "auth", "auth_header": "auth_header", "flavour": "flavour",
           "author": "author", "api_key_env": "api_key_env"}


COMMAND_INDENT = " " * 7  # how next_steps sets a command apart from the step's text


class ScaffoldError(PlugbayError):
    """The plugin could not be generated: bad input, a clash, or cookiecutter missing."""


def template_dir() -> Path:
    """The template: package data in an installed wheel, else the source checkout's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_template", here.parents[2] / "template"):
        if (candidate / "cookiecutter.json").is_file():
            return candidate
    raise ScaffoldError("the plugin template is missing from this plugbay installation; "
                        "reinstall plugbay from a wheel")


def template_hooks(template: Path | None = None) -> ModuleType:
    """The template's pre-generation hook as a module: ``validate`` and ``find_workspace``."""
    path = (template or template_dir()) / "hooks" / "pre_gen_project.py"
    spec = importlib.util.spec_from_file_location("_plugbay_template_pre_gen", path)
    if spec is None or spec.loader is None:  # pragma: no cover - the file is always there
        raise ScaffoldError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cookiecutter(module: str = "main") -> ModuleType:
    """A cookiecutter module, imported only now: core does not depend on it."""
    try:
        return importlib.import_module(f"cookiecutter.{module}")
    except ImportError:
        raise ScaffoldError("new-plugin needs cookiecutter: pip install cookiecutter "
                            "(or pip install 'plugbay[scaffold]')") from None


@contextmanager
def _quiet_cookiecutter() -> Iterator[None]:
    """cookiecutter logs a traceback when a hook refuses; the refusal is reported once."""
    logger = logging.getLogger("cookiecutter")
    handler, propagate = logging.NullHandler(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _answers(template: Path, given: Mapping[str, str], *, no_input: bool) -> dict[str, Any]:
    """Every template variable, rendered: from ``given``, the defaults, or the prompts."""
    context = _cookiecutter("generate").generate_context(
        context_file=str(template / "cookiecutter.json"), extra_context=dict(given))
    answers: dict[str, Any] = _cookiecutter("prompt").prompt_for_config(context,
                                                                         no_input=no_input)
    return answers


def new_plugin(given: Mapping[str, str], *, no_input: bool = True,
               output_dir: Path | None = None, cwd: Path | None = None) -> Path:
    """Render the template with ``given`` variables; the new plugin's directory."""
    main, exceptions = _cookiecutter("main"), _cookiecutter("exceptions")
    template = template_dir()
    hooks = template_hooks(template)
    cwd = (cwd or Path.cwd()).resolve()
    root = hooks.find_workspace(cwd)
    output = (output_dir or (root / "plugins" if root else cwd)).resolve()
    if no_input and not given.get("provider"):
        raise ScaffoldError("--no-input needs --name")
    choices = {"auth": hooks.AUTH_STYLES, "flavour": hooks.FLAVOURS}
    for key, allowed in choices.items():  # cookiecutter would raise on an unknown choice
        if key in given and given[key] not in allowed:
            raise ScaffoldError(f"{key} {given[key]!r} must be one of {', '.join(allowed)}")
    try:
        answers = _answers(template, given, no_input=no_input)
    except (KeyboardInterrupt, EOFError):
        raise ScaffoldError("cancelled") from None
    problem = hooks.validate(answers, output_dir=output)
    if problem:
        raise ScaffoldError(problem)
    target = output / answers["provider"]
    if target.exists():
        raise ScaffoldError(f"{target} already exists")
    public = {k: str(v) for k, v in answers.items() if not k.startswith("_")}
    output.mkdir(parents=True, exist_ok=True)
    try:
        with _quiet_cookiecutter():
            made = main.cookiecutter(str(template), no_input=True, extra_context=public,
                                     output_dir=str(output))
    except exceptions.FailedHookException:
        raise ScaffoldError("the template refused these values (see the message above)") \
            from None
    except exceptions.CookiecutterException as exc:
        raise ScaffoldError(" ".join(str(exc).split())) from None
    return Path(made)


def next_steps(plugin: Path, *, cwd: Path, in_repo: bool, flavour: str) -> str:
    """What to do after generating ``plugin``, as shown by the command: the steps and
    commands of docs/writing-a-plugin.md (a test keeps the two in step). Each command is
    on a line of its own, to copy as it is."""
    name = plugin.name
    try:
        shown = os.path.relpath(plugin, cwd)
    except ValueError:  # another drive on Windows
        shown = str(plugin)
    tests = ("they pass as generated" if flavour == "openai-compatible" else
             "they fail, each naming a step still to write: write codec.py and the Wire")
    steps: list[tuple[str, list[str]]]
    if in_repo:
        venv = os.path.relpath(plugin.parent.parent / ".venv" / "bin", cwd)
        guide = 'docs/writing-a-plugin.md, "Working inside the plugbay repository"'
        steps = [
            (f"Install it and run its tests ({tests}):",
             [f"uv pip install --python {venv}/python -e {shown}", f"{venv}/pytest {shown} -q"]),
            (f"Work through the checklist in {shown}/README.md; fill in prices.toml "
             "(TO FILL IN).", []),
            (f"Edit docs/providers/{name}.md and add a row for {name} to "
             "docs/providers/index.md.", []),
            ("Lint it:", [f"{venv}/ruff check {shown}"]),
        ]
    else:
        guide = "docs/writing-a-plugin.md"
        steps = [
            (f"Install it where plugbay is installed and run its tests ({tests}):",
             [f"cd {shown}", "uv pip install -e .", "pytest -q"]),
            ("Work through the checklist in README.md; fill in prices.toml (TO FILL IN).", []),
            (f"Edit the provider page, docs/{name}.md.", []),
            ("Build it, and publish it when the checklist is done:", ["uv build", "uv publish"]),
        ]
    lines = [f"Created {shown} ({flavour}).", "", f"Next steps ({guide}):"]
    for i, (what, commands) in enumerate(steps, 1):
        lines.append(f"  {i}. {what}")
        lines += [f"{COMMAND_INDENT}{command}" for command in commands]
    lines += ["", "Guide: docs/writing-a-plugin.md and docs/testing-plugins.md in plugbay."]
    return "\n".join(lines) + "\n"


def cmd_new_plugin(args: argparse.Namespace, out: TextIO) -> int:
    given = {var: getattr(args, opt) for opt, var in OPTIONS.items()
             if getattr(args, opt) is not None}
    cwd = Path.cwd()
    output = Path(args.output_dir) if args.output_dir else None
    plugin = new_plugin(given, no_input=args.no_input, output_dir=output, cwd=cwd)
    root = template_hooks().find_workspace(cwd)
    in_repo = root is not None and plugin.parent.resolve() == (root / "plugins").resolve()
    flavour = given.get("flavour") or _flavour_of(plugin)
    out.write(next_steps(plugin, cwd=cwd, in_repo=in_repo, flavour=flavour))
    return 0


def _flavour_of(plugin: Path) -> str:
    return "custom" if any(plugin.glob("src/*/codec.py")) else "openai-compatible"


def add_parser(sub: Any) -> None:
    """Register ``new-plugin`` on the ``plugbay`` command's subparsers."""
    p = sub.add_parser("new-plugin", help="start a provider plugin from the template")
    p.add_argument("--name", help="provider name: the entry point (e.g. acme-cloud)")
    p.add_argument("--display-name", help="human name (default: from --name)")
    p.add_argument("--base-url", help="the API's base URL")
    p.add_argument("--auth", help="bearer (default), header or none")
    p.add_argument("--auth-header", help="header carrying the key when --auth header")
    p.add_argument("--api-key-env", help="the key's environment variable (default NAME_API_KEY)")
    p.add_argument("--flavour", help="openai-compatible (default) or custom")
    p.add_argument("--author", help="maintainer name")
    p.add_argument("--output-dir", help="where to create it (default: plugins/ inside the "
                                        "plugbay repository, else the current directory)")
    p.add_argument("--no-input", action="store_true", help="ask nothing; needs --name")
    p.set_defaults(func=cmd_new_plugin)
