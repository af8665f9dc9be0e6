"""The two import figures of plugbay, one per fresh interpreter:

    python clients/plugbay_import.py --form module|client [--cpu CPU]

``module`` times ``import plugbay`` (whose names load lazily); ``client`` times
``from plugbay import Client``, what a program that makes a call pays before its first
line. Only ``os``, ``sys`` and ``time`` (loaded by the interpreter anyway) come first.
Prints one JSON line: wall and CPU seconds, the module count, and which of the heavy
modules the import itself pulled in.
"""

import os
import sys
import time

# Modules whose presence after the import explains a slow figure.
HEAVY = ("pydantic", "pydantic_core", "asyncio", "pluggy", "typing", "re", "plugbay.client",
         "plugbay.config", "plugbay.types", "plugbay.http.client")


def main() -> None:
    argv = sys.argv[1:]
    form = argv[argv.index("--form") + 1] if "--form" in argv else "module"
    if "--cpu" in argv and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {int(argv[argv.index("--cpu") + 1])})
        except OSError:
            pass
    before = set(sys.modules)
    cpu0, t0 = time.process_time(), time.perf_counter()
    if form == "client":
        from plugbay import Client  # noqa: F401
    elif form == "module":
        import plugbay  # noqa: F401
    else:
        raise SystemExit(f"unknown --form {form!r} (module or client)")
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    import json

    loaded = [m for m in HEAVY if m in sys.modules and m not in before]
    doc = {"mode": "import_form", "form": form, "import_s": wall, "import_cpu_s": cpu,
           "modules": len(sys.modules), "loaded": loaded}
    sys.stdout.write(json.dumps(doc) + "\n")


if __name__ == "__main__":
    main()
