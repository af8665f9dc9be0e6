"""A real HTTP/1.1 server on 127.0.0.1 that plays a provider's upstream in tests.

It runs an asyncio server on its own event loop in a daemon thread, so sync tests,
async tests (on any loop) and subprocesses can all talk to it over real sockets::

    with FakeServer() as srv:
        srv.add("POST", "/v1/chat/completions", Reply.json({"id": "x"}))
        ...  # point the client at srv.url
        assert srv.last.json()["model"] == "m"

Routes are matched on method and path (query excluded): exact strings first, then
compiled regexes (``fullmatch``) in the order added. A route's replies are served in
order and the last one repeats. A reply may be a callable taking the
``RecordedRequest``; it runs on the server's loop, so it must not block (use
``delay`` or an async callable to be slow).
"""

from __future__ import annotations

import asyncio
import inspect
import re
import socket
import struct
import threading
from typing import Any
from urllib.parse import parse_qs, unquote

from plugbay.http.models import Headers
from plugbay.testing.recorded import RecordedRequest, ReplySource, Route
from plugbay.testing.replies import Reply
from plugbay.testing.stream_parts import Cut, Pause

__all__ = ["FakeServer", "Pause", "RecordedRequest", "Reply", "Route"]

_HEAD_LIMIT = 1 << 20  # longest request head (and StreamReader buffer) accepted
_BACKLOG = 4096  # many clients connect at once in the concurrency tests


class _BadRequest(Exception):
    pass


def _rst(writer: asyncio.StreamWriter) -> None:
    # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FakeServer:
    """A fake upstream on 127.0.0.1 (port chosen by the OS unless given)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._exact: dict[tuple[str, str], Route] = {}
        self._patterns: dict[tuple[str, str, int], Route] = {}
        self._requests: list[RecordedRequest] = []
        self._errors: list[BaseException] = []
        self._connections = 0
        self._open: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeServer:
        """Bind and serve in a background thread; returns once the port is bound."""
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            serving = asyncio.start_server(
                self._serve, self._host, self._port, limit=_HEAD_LIMIT, backlog=_BACKLOG
            )
            try:
                self._server = loop.run_until_complete(serving)
            except BaseException as exc:  # handed to start() in the caller's thread
                failure.append(exc)
            ready.set()
            if not failure:
                loop.run_forever()
            # Cancel what is left (say a connection accepted during stop), then let the
            # transports' close callbacks run before the loop goes.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

        thread = threading.Thread(target=run, name="plugbay-fake-server", daemon=True)
        thread.start()
        ready.wait()
        if failure:
            thread.join()
            raise failure[0]
        assert self._server is not None
        self._port = self._server.sockets[0].getsockname()[1]
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        """Close the listener and every open connection (even mid-stall); idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if threading.current_thread() is thread:
            raise RuntimeError("FakeServer.stop() called from the server's own thread")
        self._loop = self._thread = None
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=5)
        except Exception:  # a wedged callable must not hang the test run
            pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        tasks = list(self._open)
        for task, writer in list(self._open.items()):
            writer.transport.abort()
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeServer:
        return self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        # Off the caller's loop: stop() waits for the server thread.
        await asyncio.to_thread(self.stop)

    # -- routes and what was seen -------------------------------------------------------

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("FakeServer is not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        return f"http://{self._host}:{self.port}"

    def add(self, method: str, path: str | re.Pattern[str], *replies: ReplySource) -> Route:
        """Serve ``replies`` in order for ``method path``; replaces an earlier identical route."""
        if not replies:
            raise ValueError("add() needs at least one reply")
        for r in replies:
            if not isinstance(r, Reply) and not callable(r):
                raise TypeError(f"a reply is a Reply or a callable, not {r!r}")
        method = method.upper()
        route = Route(method, path, replies)
        with self._lock:
            if isinstance(path, str):
                self._exact[(method, path)] = route
            else:
                key = (method, path.pattern, path.flags)
                self._patterns.pop(key, None)  # re-adding moves it to the end
                self._patterns[key] = route
        return route

    def clear(self) -> None:
        """Forget every route, recorded request and error."""
        with self._lock:
            self._exact.clear()
            self._patterns.clear()
            self._requests.clear()
            self._errors.clear()

    @property
    def routes(self) -> list[Route]:
        """Every route, in matching order: exact paths, then patterns (a copy)."""
        with self._lock:
            return [*self._exact.values(), *self._patterns.values()]

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request read so far, in arrival order (a copy)."""
        return list(self._requests)

    @property
    def last(self) -> RecordedRequest:
        try:
            return self._requests[-1]
        except IndexError:
            raise LookupError("fake server: no request received yet") from None

    @property
    def connections(self) -> int:
        """TCP connections accepted since the server was created."""
        return self._connections

    @property
    def open_connections(self) -> int:
        """TCP connections open right now."""
        return len(self._open)

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised by reply callables (each answered with a 500)."""
        return list(self._errors)

    def _pick(self, req: RecordedRequest) -> ReplySource | None:
        paths = [req.path]
        if "%" in req.path:  # a test may name the decoded path
            paths.append(unquote(req.path))
        methods = ["HEAD", "GET"] if req.method == "HEAD" else [req.method]
        with self._lock:
            for method in methods:
                for path in paths:
                    route = self._exact.get((method, path))
                    if route is None:
                        route = next(
                            (r for (m, _, _), r in self._patterns.items() if m == method
                             and isinstance(r.path, re.Pattern) and r.path.fullmatch(path)),
                            None,
                        )  # fmt: skip
                    if route is not None:
                        return route.take(req)
        return None

    async def _resolve(self, req: RecordedRequest) -> Reply:
        source = self._pick(req)
        if source is None:
            message = f"fake server: no route for {req.method} {req.path}"
            return Reply.json({"error": {"message": message}}, status=404)
        if isinstance(source, Reply):
            return source
        try:
            result = source(req)
            if inspect.isawaitable(result):
                result = await result
            if not isinstance(result, Reply):
                raise TypeError(f"reply callable returned {result!r}, not a Reply")
            return result
        except Exception as exc:
            self._errors.append(exc)
            message = f"fake server: reply callable raised {exc!r}"
            return Reply.json({"error": {"message": message}}, status=500)

    # -- the wire -----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._open[task] = writer
        self._connections += 1
        conn = self._connections
        try:
            keep = True
            while keep:
                try:
                    req = await self._read(reader, writer, conn)
                except _BadRequest as exc:
                    msg = {"error": {"message": f"fake server: bad request: {exc}"}}
                    await self._send(Reply.json(msg, status=400), "GET", writer, False)
                    break
                if req is None:
                    break
                self._requests.append(req)
                reply = await self._resolve(req)
                keep = await self._send(reply, req.method, writer, keep=req.keep_alive)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass  # the client went away; nothing to answer
        except asyncio.CancelledError:
            pass  # stop(): ending quietly keeps 3.11's stream callback from logging it
        except Exception as exc:
            self._errors.append(exc)
        finally:
            self._open.pop(task, None)
            if not writer.transport.is_closing():
                writer.transport.close()

    async def _read(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: int
    ) -> RecordedRequest | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise _BadRequest("incomplete request head") from None
            return None  # a clean close between requests
        except asyncio.LimitOverrunError:
            raise _BadRequest("request head too large") from None
        lines = head.decode("latin-1").lstrip("\r\n").split("\r\n")[:-2]
        parts = lines[0].split(" ") if lines else []
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise _BadRequest(f"bad request line {lines[0] if lines else ''!r}")
        method, target, version = parts
        pairs = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name.strip() != name:
                raise _BadRequest(f"bad header line {line!r}")
            pairs.append((name, value.strip()))
        headers = Headers(pairs)
        if target.startswith(("http://", "https://")):  # absolute form: keep path and query
            slash = target.find("/", target.find("//") + 2)
            target = target[slash:] if slash >= 0 else "/"
        path, _, qs = target.partition("?")
        body = await self._read_body(reader, writer, headers)
        query = parse_qs(qs, keep_blank_values=True) if qs else {}
        return RecordedRequest(method, target, path, query, headers, body, version, conn)

    @staticmethod
    async def _read_body(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, headers: Headers
    ) -> bytes:
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        if not chunked and length is None:
            return b""
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if not chunked:
            if not (length or "").strip().isdigit():
                raise _BadRequest(f"bad Content-Length {length!r}")
            return await reader.readexactly(int(length or ""))
        pieces = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest(f"bad chunk size {size_line!r}") from None
            if size == 0:
                break
            pieces.append(await reader.readexactly(size))
            if await reader.readexactly(2) != b"\r\n":
                raise _BadRequest("chunk not followed by CRLF")
        while (await reader.readuntil(b"\r\n")) != b"\r\n":
            pass  # trailers are read and dropped
        return b"".join(pieces)

    async def _send(
        self, reply: Reply, method: str, writer: asyncio.StreamWriter, keep: bool
    ) -> bool:
        """Put ``reply`` on the wire; returns whether the connection stays open."""
        if reply.delay:
            await asyncio.sleep(reply.delay)
        kind = reply.kind
        if kind == "stall":
            await asyncio.sleep(reply.seconds)
            return False
        if kind == "drop":
            return False
        if kind == "reset":
            _rst(writer)
            return False
        conn = [] if keep else [("Connection", "close")]
        send_body = method != "HEAD"
        if kind == "truncated":
            writer.write(reply.head([("Content-Length", str(reply.claim))]) + reply.body)
            return False  # closing flushes what was written, then sends FIN
        if kind == "body":
            if reply.status in (204, 304) or reply.status < 200:  # these never carry a body
                writer.write(reply.head(conn))
            else:
                head = reply.head([("Content-Length", str(len(reply.body))), *conn])
                writer.write(head + reply.body if send_body else head)
            await writer.drain()
            return keep
        writer.write(reply.head([("Transfer-Encoding", "chunked"), *conn]))
        await writer.drain()
        if not send_body:
            return keep
        for item in reply.wire_chunks():
            if isinstance(item, Pause):
                await asyncio.sleep(item.seconds)
            elif isinstance(item, Cut):
                return False
            else:
                writer.write(item)
                await writer.drain()
        return keep
