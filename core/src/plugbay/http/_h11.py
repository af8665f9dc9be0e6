"""HTTP/1.1 wire format for ``AsyncioTransport``: no I/O, only bytes and strings.

URLs and proxy settings, request heads, response heads and body framing
(Content-Length, chunked, read-until-close); gzip/deflate decoding is in ``_inflate``.
Everything malformed on the wire raises ``plugbay.errors.ConnectionError`` so the
transport never leaks parser internals.
"""

from __future__ import annotations

from collections.abc import Mapping

from plugbay.errors import ConnectionError as HTTPConnectionError

__all__ = [
    "LENGTH",
    "MAX_HEAD",
    "Framer",
    "HTTPConnectionError",
    "bypass_proxy",
    "env_proxies",
    "parse_response",
    "proxy_for",
    "request_head",
    "split_url",
]

MAX_HEAD = 64 * 1024  # larger response heads are refused rather than buffered forever
_MAX_LINE = 8 * 1024  # chunk-size and trailer lines
_HEX = b"0123456789abcdefABCDEF"
_DEFAULT_PORT = {"http": 80, "https": 443}
_SPECIAL = frozenset({"content-length", "transfer-encoding", "connection", "content-encoding"})
_DEFAULT_NAMES = frozenset(
    {"host", "user-agent", "accept-encoding", "connection", "proxy-authorization"}
)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# Parsing the same few provider URLs again for every request would cost more than the rest
# of building the request, so split URLs are cached (bounded; cleared when full).
_url_cache: dict[str, tuple[str, str, int, str, str]] = {}


def split_url(url: str) -> tuple[str, str, int, str, str]:
    """``(scheme, host, port, target, authority)``; ``target`` is path plus query."""
    hit = _url_cache.get(url)
    if hit is not None:
        return hit
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORT:
        raise ValueError(f"unsupported URL {url!r}: only http:// and https:// are supported")
    rest = rest.partition("#")[0]
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, target = rest[:cut].rpartition("@")[2], rest[cut:]
    if target.startswith("?"):
        target = "/" + target
    target = target or "/"
    if authority.startswith("["):  # IPv6 literal
        host, _, port_s = authority[1:].partition("]")
        port_s = port_s[1:] if port_s.startswith(":") else port_s
    else:
        host, _, port_s = authority.partition(":")
    host = host.lower()
    if not host or (port_s and not (port_s.isascii() and port_s.isdigit())):
        raise ValueError(f"invalid URL {url!r}: bad host or port")
    if any(c in target for c in " \r\n\t") or any(c in host for c in " \r\n\t/@"):
        raise ValueError(f"invalid URL {url!r}: whitespace must be percent-encoded")
    port = int(port_s) if port_s else _DEFAULT_PORT[scheme]
    if port > 65535:
        raise ValueError(f"invalid URL {url!r}: port out of range")
    shown = f"[{host}]" if ":" in host else host
    authority = shown if port == _DEFAULT_PORT[scheme] else f"{shown}:{port}"
    if len(_url_cache) >= 512:
        _url_cache.clear()
    result = _url_cache[url] = (scheme, host, port, target, authority)
    return result


def request_head(
    method: str, target: str, defaults: dict[str, str], headers: list[tuple[str, str]],
    body: bytes | None, default_block: str,
) -> tuple[bytes, bool]:
    """The encoded request head and whether the caller allows keep-alive.

    ``defaults`` maps lower-case names to full header lines; ``default_block`` is all of
    them joined, used as is when the caller overrides none (the common case).
    """
    custom = "".join([f"{k}: {v}\r\n" for k, v in headers])
    n = len(headers)
    # One C-level count instead of a check per header: CR/LF inside a name or value
    # would let a caller-supplied string inject headers.
    bad_method = not method or " " in method or not method.isprintable()
    if custom.count("\n") != n or custom.count("\r") != n or bad_method:
        raise ValueError("header names, values and the method must not contain CR, LF or spaces")
    block, keep = default_block, True
    names: set[str] = set()
    if n:
        names = {k.lower() for k, _ in headers}
        if not names.isdisjoint(_DEFAULT_NAMES):
            block = "".join([line for name, line in defaults.items() if name not in names])
            if "connection" in names:
                value = ",".join(v for k, v in headers if k.lower() == "connection")
                keep = "close" not in {t.strip().lower() for t in value.split(",")}
    if "content-length" in names or "transfer-encoding" in names:
        length = ""
    elif body is not None:
        length = f"Content-Length: {len(body)}\r\n"
    else:
        length = "Content-Length: 0\r\n" if method in _BODY_METHODS else ""
    text = f"{method} {target} HTTP/1.1\r\n{block}{custom}{length}\r\n"
    try:
        return text.encode("latin-1"), keep
    except UnicodeEncodeError:
        return text.encode("utf-8"), keep


# Framer modes.
LENGTH, CHUNKED, UNTIL_CLOSE = 0, 1, 2
# Chunked states.
_SIZE, _DATA, _DATA_END, _TRAILER = 0, 1, 2, 3


class Framer:
    """Cuts one response body out of the connection's receive buffer."""

    __slots__ = ("done", "mode", "remaining", "state", "trailers")

    def __init__(self, mode: int, length: int = 0) -> None:
        self.mode = mode
        self.remaining = length
        self.state = _SIZE
        self.done = False
        self.trailers: list[tuple[str, str]] = []

    def take(self, buf: bytearray) -> bytes:
        """Remove and return the body bytes available in ``buf``; sets ``done`` at the end."""
        if self.mode == LENGTH:
            n = self.remaining
            if len(buf) <= n:
                data = bytes(buf)
                buf.clear()
            else:
                data = bytes(buf[:n])
                del buf[:n]
            self.remaining = n - len(data)
            self.done = self.remaining == 0
            return data
        if self.mode == UNTIL_CLOSE:
            data = bytes(buf)
            buf.clear()
            return data
        return self._take_chunked(buf)

    def _take_chunked(self, buf: bytearray) -> bytes:
        out: list[bytes] = []
        while buf and not self.done:
            state = self.state
            if state == _DATA:
                n = self.remaining
                piece = bytes(buf[:n])
                del buf[:n]
                out.append(piece)
                self.remaining = n - len(piece)
                if self.remaining == 0:
                    self.state = _DATA_END
            elif state == _DATA_END:
                if len(buf) < 2:
                    break
                if buf[:2] != b"\r\n":
                    raise HTTPConnectionError("malformed chunked body: missing CRLF after chunk")
                del buf[:2]
                self.state = _SIZE
            else:
                i = buf.find(b"\r\n")
                if i < 0:
                    if len(buf) > _MAX_LINE:
                        raise HTTPConnectionError("malformed chunked body: line too long")
                    break
                line = bytes(buf[:i])
                del buf[: i + 2]
                if state == _SIZE:
                    self._size_line(line)
                elif not line:
                    self.done = True
                else:
                    name, sep, value = line.decode("latin-1").partition(":")
                    if not sep or not name.strip():
                        raise HTTPConnectionError(f"malformed chunked trailer {line[:100]!r}")
                    self.trailers.append((name.strip(), value.strip()))
                    if len(self.trailers) > 100:
                        raise HTTPConnectionError("too many chunked trailers")
        return out[0] if len(out) == 1 else b"".join(out)

    def _size_line(self, line: bytes) -> None:
        size = line.partition(b";")[0].strip(b" \t")
        # int(x, 16) alone would accept "0x1f", "+5" and "1_0"; the framing must be exact.
        if not size or size.strip(_HEX) or len(size) > 16:
            raise HTTPConnectionError(f"malformed chunk size line {line[:100]!r}")
        self.remaining = int(size, 16)
        self.state = _DATA if self.remaining else _TRAILER

    def at_eof(self, clean: bool) -> None:
        """The connection ended: that ends a read-until-close body, anything else is truncated."""
        if self.mode == UNTIL_CLOSE and clean:
            self.done = True
            return
        if self.mode == LENGTH:
            missing = f" ({self.remaining} bytes missing)"
        elif self.mode == CHUNKED:
            missing = " (chunked body incomplete)"
        else:
            missing = ""
        raise HTTPConnectionError(f"connection closed before the body was complete{missing}")


def parse_response(
    text: str, head_request: bool,
) -> tuple[int, str, list[tuple[str, str]], Framer | None, bool, str]:
    """``(status, reason, headers, framer, keep_alive, content_encoding)`` from a response head.

    ``framer`` is None when the response has no body (HEAD, 1xx, 204, 304, length 0).
    """
    lines = text.split("\r\n")
    n = len(lines) - 1
    if text.count("\n") != n or text.count("\r") != n:
        raise HTTPConnectionError("malformed response head: bare CR or LF")
    if "\r\n " in text or "\r\n\t" in text:
        raise HTTPConnectionError("malformed response header: obsolete line folding")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if version not in ("HTTP/1.1", "HTTP/1.0") or len(code) != 3 or not (
        code.isascii() and code.isdigit()
    ):
        raise HTTPConnectionError(f"malformed status line {lines[0][:100]!r}")
    status = int(code)
    items: list[tuple[str, str]] = []
    lengths: list[str] = []
    te: list[str] = []
    conn_tokens = coding = ""
    append = items.append
    for line in lines[1:]:  # the hot loop of every response: keep it to a few C calls
        name, sep, value = line.partition(":")
        if not sep or not name or name[-1] in " \t":
            raise HTTPConnectionError(f"malformed response header line {line[:100]!r}")
        value = value.strip(" \t")
        append((name, value))
        if name[0] not in "cCtT":  # cheap pre-filter: no special name starts otherwise
            continue
        lname = name.lower()
        if lname in _SPECIAL:
            if lname == "content-length":
                lengths.append(value)
            elif lname == "transfer-encoding":
                te.append(value)
            elif lname == "connection":
                conn_tokens = f"{conn_tokens},{value}" if conn_tokens else value
            else:
                coding = f"{coding}, {value}" if coding else value
    keep = version == "HTTP/1.1"
    if conn_tokens:
        tokens = conn_tokens.lower().replace(" ", "").replace("\t", "").split(",")
        keep = "close" not in tokens if keep else "keep-alive" in tokens
    if head_request or status < 200 or status in (204, 304):
        return status, reason, items, None, keep, coding
    if te:
        last = ",".join(te).rsplit(",", 1)[-1].strip().lower()
        # Both headers present is a smuggling vector: honour TE, never reuse the connection.
        keep = keep and not lengths and last == "chunked"
        framer = Framer(CHUNKED if last == "chunked" else UNTIL_CLOSE)
        return status, reason, items, framer, keep, coding
    if lengths:
        length = lengths[0]
        if len(lengths) > 1 or "," in length:  # repeats are allowed only if all are equal
            values = {v.strip() for v in ",".join(lengths).split(",")}
            length = values.pop() if len(values) == 1 else "?"
        if not (length.isascii() and length.isdigit()):
            raise HTTPConnectionError(f"malformed Content-Length {lengths!r}")
        size = int(length)
        return status, reason, items, Framer(LENGTH, size) if size else None, keep, coding
    return status, reason, items, Framer(UNTIL_CLOSE), False, coding


def env_proxies(env: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """``({scheme: proxy_url}, no_proxy)`` from the environment, lower-case names first."""
    def get(name: str) -> str:
        value = env.get(name)
        # An upper-case HTTP_PROXY in a CGI process may come from a client header (httpoxy).
        if value is None and not (name == "http_proxy" and "REQUEST_METHOD" in env):
            value = env.get(name.upper())
        return (value or "").strip()

    fallback = get("all_proxy")
    proxies = {"http": get("http_proxy") or fallback, "https": get("https_proxy") or fallback}
    return {k: v for k, v in proxies.items() if v}, get("no_proxy")


def proxy_for(proxies: tuple[dict[str, str], str], scheme: str, host: str,
               port: int) -> tuple[str, int, str] | None:
    """``(proxy_host, proxy_port, proxy_authorization_line)`` or None for a direct connection."""
    url = proxies[0].get(scheme)
    if not url or bypass_proxy(host, port, proxies[1]):
        return None
    if "://" not in url:
        url = "http://" + url
    if not url.lower().startswith("http://"):
        raise HTTPConnectionError(f"unsupported proxy {url.split('://')[0]!r}: only http:// "
                                  "proxies are supported")
    userinfo, _, hostport = url[7:].partition("/")[0].rpartition("@")
    _, proxy_host, proxy_port, _, _ = split_url("http://" + hostport)
    auth = ""
    if userinfo:
        import base64
        from urllib.parse import unquote

        user, _, password = userinfo.partition(":")
        token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
        auth = f"Proxy-Authorization: Basic {token}\r\n"
    return proxy_host, proxy_port, auth


def bypass_proxy(host: str, port: int, no_proxy: str) -> bool:
    """True when ``host`` must be reached directly: loopback, or matched by NO_PROXY."""
    # Like Go's net/http, loopback is never proxied: a local proxy cannot reach our localhost.
    if host in ("localhost", "::1") or host.endswith(".localhost") or (
        host.startswith("127.") and host.replace(".", "").isdigit()
    ):
        return True
    for raw in no_proxy.lower().split(","):
        entry = raw.strip()
        if entry == "*":
            return True
        if not entry:
            continue
        entry_port = ""
        if entry.startswith("["):
            entry, _, rest = entry[1:].partition("]")
            entry_port = rest.lstrip(":")
        elif entry.count(":") == 1:
            entry, _, entry_port = entry.partition(":")
        if entry_port and entry_port != str(port):
            continue
        if "/" in entry:
            if _in_network(host, entry):
                return True
            continue
        entry = entry.removeprefix("*").lstrip(".")
        if host == entry or host.endswith("." + entry):
            return True
    return False


def _in_network(host: str, cidr: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
