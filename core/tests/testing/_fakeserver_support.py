"""A raw HTTP/1.1 client socket shared by the ``test_server_*`` files."""

from __future__ import annotations

import socket

from plugbay.http.models import Headers
from plugbay.testing.server import FakeServer


class Raw:
    """A raw HTTP/1.1 client socket that reads exactly what the server framed."""

    def __init__(self, srv: FakeServer, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
        self.buf = b""

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.sock.close()

    def send(self, method: str, path: str, body: bytes = b"", headers: str = "") -> None:
        framing = f"Content-Length: {len(body)}\r\n" if body else ""
        head = f"{method} {path} HTTP/1.1\r\nHost: t\r\n{framing}{headers}\r\n"
        self.sock.sendall(head.encode() + body)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError(self.buf)
        self.buf += data

    def until(self, sep: bytes) -> bytes:
        while sep not in self.buf:
            self._fill()
        out, _, self.buf = self.buf.partition(sep)
        return out + sep

    def exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self) -> tuple[int, Headers]:
        lines = self.until(b"\r\n\r\n").decode().split("\r\n")[:-2]
        pairs = [tuple(line.split(": ", 1)) for line in lines[1:]]
        return int(lines[0].split(" ")[1]), Headers([(k, v) for k, v in pairs])

    def chunk(self) -> bytes | None:
        size = int(self.until(b"\r\n"), 16)
        if size == 0:
            assert self.exact(2) == b"\r\n"
            return None
        data = self.exact(size)
        assert self.exact(2) == b"\r\n"
        return data

    def chunks(self) -> list[bytes]:
        return list(iter(self.chunk, None))

    def response(self) -> tuple[int, Headers, bytes]:
        status, headers = self.head()
        if headers.get("transfer-encoding") == "chunked":
            return status, headers, b"".join(self.chunks())
        return status, headers, self.exact(int(headers.get("content-length", "0")))

    def eof(self) -> bool:
        return self.sock.recv(1) == b""
