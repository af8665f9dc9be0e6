"""``plugbay batch``: run a JSONL file of requests, locally or as a provider batch job.

::

    plugbay batch requests.jsonl -o results.jsonl [--concurrency N] [--rpm N] [-m MODEL]
    plugbay batch requests.jsonl -o results.jsonl --provider-batch [--detach]
    plugbay batch status|cancel JOB
    plugbay batch fetch JOB -o results.jsonl

Each result line is appended and flushed the moment it finishes; a rerun with the same
output skips the ids already there. A malformed input line is reported with its line
number and the rest runs. A budget stop or Ctrl-C ends the run with a summary (Ctrl-C
once: the calls in flight finish and are written; twice: they are dropped, and a rerun
sends them). Exit status: 0 all done, 1 some items failed or lines were malformed,
2 a usage error, 3 stopped early (budget), 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from plugbay import errors

if TYPE_CHECKING:
    from plugbay.batch.inputs import BadLine
    from plugbay.batch.results import ResultWriter
    from plugbay.batch.runner import Control
    from plugbay.client import Client

__all__ = ["add_parser", "cmd_batch"]

JOB_COMMANDS = ("status", "fetch", "cancel")
EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED, EXIT_INTERRUPTED = 1, 2, 3, 130


# Errors every item would meet alike: the run stops (nothing written for them) instead
# of filling the output with failed lines a rerun would then skip.
FATAL: tuple[type[BaseException], ...] = (
    errors.AuthenticationError, errors.PermissionDeniedError, errors.QuotaExceededError,
    errors.ConfigError, errors.UnknownProviderError)


class BatchUsageError(Exception):
    """Bad arguments or input: one line on stderr, exit status 2."""


def _say(text: str) -> None:
    sys.stderr.write(f"plugbay: {text}\n")
    sys.stderr.flush()


def _jobs() -> Any:
    try:
        from plugbay.batch import jobs
    except ImportError:
        raise BatchUsageError("provider batch jobs are not available in this installation "
                              "(plugbay.batch.jobs is missing); run without --provider-batch"
                              ) from None
    return jobs


def _client(args: argparse.Namespace) -> Client:
    from plugbay.client import Client

    return Client(args.config)


def _lines(path: Path) -> Any:
    """The input's lines as text; a line that is not UTF-8 is handed on as a ``BadLine``."""
    from plugbay.batch.inputs import BadLine

    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield BadLine(n, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column "
                              f"{exc.start + 1})")
                yield ""  # keeps the line numbering of what follows


def _items(path: Path, model: str | None) -> Any:
    from plugbay.batch.inputs import BadLine, read_lines

    pending: list[BadLine] = []

    def texts() -> Any:
        for x in _lines(path):
            if isinstance(x, BadLine):
                pending.append(x)
            else:
                yield x

    for item in read_lines(texts(), model):
        while pending:
            yield pending.pop()
        yield item
    yield from pending


def _report_bad(path: Path) -> Any:
    def report(bad: BadLine) -> None:
        _say(f"{path} {bad}; skipped")
    return report


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for raw in fh if raw.strip())


def _install_signals(control: Control) -> None:
    loop = asyncio.get_running_loop()
    presses = [0]

    def interrupt() -> None:
        presses[0] += 1
        if presses[0] == 1:
            control.stop("interrupted (Ctrl-C)")
            _say("stopping: the calls in flight finish and are written (Ctrl-C again to "
                 "drop them; a rerun sends what is not written)")
        else:
            control.abort()

    try:
        loop.add_signal_handler(signal.SIGINT, interrupt)
        loop.add_signal_handler(signal.SIGTERM, lambda: control.stop("terminated (SIGTERM)"))
    except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
        pass


async def _run_local(args: argparse.Namespace, writer: ResultWriter, path: Path) -> int:
    from plugbay.batch.runner import BatchStats, Control, run

    stats, control = BatchStats(), Control()
    progress = not args.no_progress and sys.stderr.isatty()
    total = _count_lines(path) if progress else None
    async with _client(args) as client:
        _install_signals(control)
        results = run(client, _items(path, args.model), concurrency=args.concurrency,
                      rpm=args.rpm, progress=progress, total=total, skip=writer.done,
                      stats=stats, control=control, on_bad=_report_bad(path),
                      on_result=lambda result: writer.write(result.line()), stop_on=FATAL)
        try:
            async for _ in results:  # each line is written the moment its call returns
                pass
        finally:
            await results.aclose()
    _say(f"batch: {stats}; results in {writer.path}")
    if stats.bad:
        _say("fix the malformed lines and rerun the same command: only they are sent "
             "(finished ids are skipped)")
    if control.reason is not None and control.reason.startswith(("interrupted", "aborted",
                                                                  "terminated")):
        return EXIT_INTERRUPTED
    if control.reason is not None:
        _say("fix that (or wait for the budget's next period) and rerun the same command: "
             "finished ids are not sent again")
        return EXIT_STOPPED
    return EXIT_FAILED if stats.failed or stats.bad else 0


def _job_file(out: Path) -> Path:
    return out.with_name(out.name + ".job")


async def _wait(client: Client, jobs: Any, job_id: str, writer: ResultWriter,
                poll: float | None) -> int:
    timing = {} if poll is None else {"interval": poll}
    try:
        summary = await jobs.wait(client, job_id, writer.write, done_ids=set(writer.done),
                                  **timing)
    except asyncio.CancelledError:
        _say(f"stopped waiting; job {job_id} keeps running at the provider: "
             f"plugbay batch fetch {job_id} -o {writer.path}")
        raise
    _say(f"batch job: {summary}; results in {writer.path}")
    _job_file(writer.path).unlink(missing_ok=True)
    return EXIT_FAILED if summary.failed else 0


async def _run_provider(args: argparse.Namespace, writer: ResultWriter, path: Path) -> int:
    jobs = _jobs()
    sidecar = _job_file(writer.path)
    async with _client(args) as client:
        if sidecar.exists():  # an earlier run submitted it: never pay for it twice
            job_id = sidecar.read_text().strip()
            _say(f"resuming job {job_id} (from {sidecar})")
        else:
            report = _report_bad(path)
            items = []
            for item in _items(path, args.model):
                if not isinstance(item, dict):
                    report(item)
                elif item["custom_id"] not in writer.done:
                    items.append(item)
            if not items:
                _say(f"nothing to submit: every request in {path} is in {writer.path}")
                return 0
            job_id = await jobs.submit(client, items)
            sidecar.write_text(job_id + "\n")
            _say(f"submitted {len(items)} requests as job {job_id}")
        if args.detach:
            sys.stdout.write(job_id + "\n")
            _say(f"later: plugbay batch status {job_id}; "
                 f"plugbay batch fetch {job_id} -o {writer.path}")
            return 0
        return await _wait(client, jobs, job_id, writer, args.poll)


async def _job_command(args: argparse.Namespace, what: str, job_id: str, out: TextIO) -> int:
    jobs = _jobs()
    async with _client(args) as client:
        if what == "fetch":
            from plugbay.batch.results import ResultWriter

            if not args.output:
                raise BatchUsageError("fetch needs -o FILE: where to write the results")
            with ResultWriter(Path(args.output)) as writer:
                return await _wait(client, jobs, job_id, writer, args.poll)
        state = await (jobs.status if what == "status" else jobs.cancel)(client, job_id)
        out.write(f"{state}\n")
        return 0


def cmd_batch(args: argparse.Namespace, out: TextIO) -> int:
    from plugbay.batch.results import ResultWriter

    try:
        words = args.target
        if words[0] in JOB_COMMANDS and len(words) == 2:
            return asyncio.run(_job_command(args, words[0], words[1], out))
        if len(words) != 1:
            raise BatchUsageError("give one input file (plugbay batch requests.jsonl -o "
                                  "results.jsonl) or status|fetch|cancel JOB")
        path = Path(words[0])
        if not path.is_file():
            raise BatchUsageError(f"no such input file: {path}")
        if not args.output:
            raise BatchUsageError("-o FILE is required: where to append the results")
        if args.concurrency < 1 or (args.rpm is not None and args.rpm <= 0):
            raise BatchUsageError("--concurrency and --rpm must be positive")
        if Path(args.output).resolve() == path.resolve():
            raise BatchUsageError("-o must not be the input file")
        with ResultWriter(Path(args.output)) as writer:
            if args.provider_batch:
                return asyncio.run(_run_provider(args, writer, path))
            if args.detach:
                raise BatchUsageError("--detach needs --provider-batch (a local run lives "
                                      "in this process)")
            return asyncio.run(_run_local(args, writer, path))
    except BatchUsageError as exc:
        _say(f"error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _say("interrupted; the results written so far are kept")
        return EXIT_INTERRUPTED
    except errors.PlugbayError as exc:
        _say(f"error: {' '.join(str(exc).split())}")
        return EXIT_USAGE


def add_parser(sub: Any) -> None:
    """Add ``batch`` to the ``plugbay`` command's subcommands."""
    p = sub.add_parser("batch", help="run a JSONL file of requests (or a provider batch job)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", nargs="+", metavar="INPUT | status|fetch|cancel JOB",
                   help="requests.jsonl, or a job command and its job id")
    p.add_argument("-o", "--output", help="results file (JSONL, appended)")
    p.add_argument("-c", "--concurrency", type=int, default=16,
                   help="calls in flight at most (default 16; halves on rate limits)")
    p.add_argument("--rpm", type=float,
                   help="calls started per minute at most, evenly spaced (a call's own "
                        "retries come on top: see docs/batch.md)")
    p.add_argument("-m", "--model", help="model for lines that name none (provider/model)")
    p.add_argument("--provider-batch", action="store_true",
                   help="submit as the provider's batch job (about half price, within 24 h)")
    p.add_argument("--detach", action="store_true",
                   help="with --provider-batch: print the job id and return at once")
    p.add_argument("--poll", type=float, metavar="SECONDS",
                   help="provider jobs: the first wait between polls (it doubles; default 5)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_batch)
