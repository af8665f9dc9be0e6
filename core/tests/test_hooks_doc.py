"""docs/hooks.md shows every hook with its exact signature; this test keeps them in step."""

import inspect
import re
from pathlib import Path

from plugbay import hookspecs

DOC = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"


def signature_of(name: str) -> str:
    fn = getattr(hookspecs, name)
    return f"def {name}{inspect.signature(fn)}".replace("'", "")


def test_every_hook_documented_with_exact_signature():
    text = DOC.read_text()
    documented = re.findall(r"^def (\w+)\(.*$", text, flags=re.M)
    names = (hookspecs.HOOK_NAMES + hookspecs.BATCH_HOOK_NAMES + hookspecs.TOKEN_HOOK_NAMES
             + hookspecs.EMBED_HOOK_NAMES)
    assert sorted(documented) == sorted(names)
    for name in names:
        assert signature_of(name) in text, f"docs/hooks.md disagrees with {name}: " \
            f"expected `{signature_of(name)}`"


def test_docstrings_have_the_fixed_shape():
    for name in (hookspecs.HOOK_NAMES + hookspecs.BATCH_HOOK_NAMES + hookspecs.TOKEN_HOOK_NAMES
             + hookspecs.EMBED_HOOK_NAMES):
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        for part in ("Result rule:", ":param provider:", ":returns:", ":async:", ":never:"):
            assert part in doc, f"{name} docstring lacks {part!r}"
