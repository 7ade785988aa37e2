"""HTTP servers of the tests' own, on ``http.server.ThreadingHTTPServer``:

- :class:`FileServer` serves a folder's files with ``Range`` requests
  (``206 Partial Content``), ``HEAD`` with ``Content-Length``, a page of links
  for a folder, and optionally a required ``Authorization`` header;
- :class:`CountingProxy` forwards every request to a server on 127.0.0.1
  unchanged (headers, body: signatures stay valid) and relays its answers.

Both count, per request path, the requests they answered and the body bytes
they sent (:class:`Traffic`).
"""

from __future__ import annotations

import html
import http.client
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "expect"}
"""Request and response headers a proxy does not pass on (RFC 9110, section 7.6.1),
with ``Expect``: the proxy answers ``100 Continue`` itself."""
RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class Traffic:
    """Requests answered and body bytes sent per request path (the URL's path,
    percent-decoded, without its query), safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._bytes: Counter[str] = Counter()

    def record(self, path: str, sent: int) -> None:
        """Count one request for ``path`` whose answer had ``sent`` body bytes."""
        with self._lock:
            self._requests[path] += 1
            self._bytes[path] += sent

    def requests(self, path: str) -> int:
        with self._lock:
            return self._requests[path]

    def bytes_sent(self, path: str) -> int:
        with self._lock:
            return self._bytes[path]

    def paths(self) -> list[str]:
        """Every path requested so far, sorted."""
        with self._lock:
            return sorted(self._requests)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._bytes.clear()


def request_path(target: str) -> str:
    """The percent-decoded path of a request target (``/a%20b?x=1`` → ``/a b``)."""
    return unquote(urlsplit(target).path)


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive byte range ``(first, last)`` one ``Range`` header asks of
    a ``size``-byte file, clamped to the file (RFC 9110, section 14.1.2).

    :returns: None when the header is not one valid byte range (several ranges
        included): the whole file is then the answer.
    :raises ValueError: when the range is valid but lies past the file's end (416).
    """
    match = RANGE.fullmatch(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise ValueError(f"range {header!r} is empty for a file of {size} bytes")
        return max(0, size - suffix), size - 1
    start = int(first)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        raise ValueError(f"range {header!r} starts past the end of a file of {size} bytes")
    return start, size - 1 if last == "" else min(int(last), size - 1)


class _Server(ThreadingHTTPServer):
    """A threaded server on 127.0.0.1, a free port, serving from a daemon thread."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.traffic = Traffic()
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop serving and close the socket (requests in flight end on their own)."""
        self.shutdown()
        self.server_close()
        self.thread.join()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def answer(self, status: int, body: bytes, headers: dict[str, str] | list[tuple[str, str]] | None = None, *,
               head: bool = False, length: int | None = None) -> None:
        """Send ``status``, ``headers``, ``Content-Length`` (``length``, else
        the body's) and the body (none for ``HEAD``); count it (first: a
        client may look at the count as soon as it has the body)."""
        self.server.traffic.record(request_path(self.path), 0 if head else len(body))
        self.send_response(status)
        pairs = headers.items() if isinstance(headers, dict) else headers or []
        for name, value in pairs:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if not head:
            self.wfile.write(body)


class FileServer(_Server):
    """Serves the files under ``root`` at ``/<relative path>``.

    ``GET`` answers 200 with the file, or 206 with one byte range for a
    ``Range: bytes=a-b`` header (``a-``, ``-n`` too; 416 past the end);
    ``HEAD`` gives the same headers without the body; a folder answers a page
    of links to its entries; a path outside ``root`` or missing is 404. While
    :attr:`authorization` is set, a request without exactly that
    ``Authorization`` header gets 401. :attr:`traffic` counts per path.
    """

    def __init__(self, root: Path, authorization: str | None = None) -> None:
        self.root = root.resolve()
        self.authorization = authorization
        super().__init__(_FileHandler)

    def url_of(self, relative: str) -> str:
        """The URL of the file at ``relative`` (``/``-separated) under the root."""
        return f"{self.url}/{quote(relative.lstrip('/'))}"

    def put(self, relative: str, data: bytes | Path) -> str:
        """Write ``data`` (bytes, or a file's contents) at ``relative`` under the root; returns its URL."""
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.read_bytes() if isinstance(data, Path) else data)
        return self.url_of(relative)

    def bytes_sent(self, relative: str) -> int:
        """Body bytes sent for the file at ``relative`` so far."""
        return self.traffic.bytes_sent("/" + relative.lstrip("/"))

    def requests(self, relative: str) -> int:
        """Requests answered for the file at ``relative`` so far."""
        return self.traffic.requests("/" + relative.lstrip("/"))

    def resolve(self, path: str) -> Path | None:
        """The file or folder a request path names, None when it is outside the root or missing."""
        target = (self.root / path.lstrip("/")).resolve()
        if target != self.root and self.root not in target.parents:
            return None
        return target if target.exists() else None


class _FileHandler(_Handler):
    server: FileServer

    def do_GET(self) -> None:  # noqa: N802
        self.serve(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self.serve(head=True)

    def serve(self, head: bool) -> None:
        required = self.server.authorization
        if required is not None and self.headers.get("Authorization") != required:
            self.answer(401, b"authorization required\n", {"WWW-Authenticate": 'Bearer realm="files"'}, head=head)
            return
        target = self.server.resolve(request_path(self.path))
        if target is None:
            self.answer(404, b"not found\n", head=head)
        elif target.is_dir():
            self.answer(200, self.listing(target), {"Content-Type": "text/html; charset=utf-8"}, head=head)
        else:
            self.serve_file(target, head)

    def serve_file(self, target: Path, head: bool) -> None:
        size = target.stat().st_size
        headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
        try:
            span = parse_range(self.headers["Range"], size) if self.headers.get("Range") else None
        except ValueError:
            self.answer(416, b"", {**headers, "Content-Range": f"bytes */{size}"}, head=head)
            return
        first, last = span if span is not None else (0, size - 1)
        with open(target, "rb") as file:
            file.seek(first)
            body = b"" if head else file.read(last - first + 1)
        if span is not None:
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        self.answer(200 if span is None else 206, body, headers, head=head, length=last - first + 1)

    def listing(self, folder: Path) -> bytes:
        """A page linking every entry of ``folder`` by its absolute path (folders end with ``/``)."""
        relative = folder.relative_to(self.server.root).as_posix()
        base = "" if relative == "." else f"/{relative}"
        links = []
        for entry in sorted(folder.iterdir()):
            href = quote(f"{base}/{entry.name}{'/' if entry.is_dir() else ''}")
            links.append(f'<a href="{href}">{html.escape(entry.name)}</a>')
        return ("<!DOCTYPE html><html><body>\n" + "<br>\n".join(links) + "\n</body></html>\n").encode()


class CountingProxy(_Server):
    """Forwards every request to ``127.0.0.1:upstream_port`` unchanged (the
    ``Host`` header included, so request signatures stay valid) and relays the
    answer; :attr:`traffic` counts per path. Bodies are held in memory: for
    test data, not for gigabytes. An unreachable upstream answers 502."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        super().__init__(_ProxyHandler)


class _ProxyHandler(_Handler):
    server: CountingProxy

    def do_GET(self) -> None:  # noqa: N802
        self.relay()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = do_OPTIONS = do_GET  # noqa: N815

    def read_body(self) -> bytes:
        """The request body: ``Content-Length`` bytes, or the chunks of a chunked body joined."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailer fields
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def relay(self) -> None:
        body = self.read_body()
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=120)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    upstream.putheader(name, value)
            if body or "Content-Length" in self.headers:
                upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body)
            response = upstream.getresponse()
            data = response.read()
        except OSError as error:
            self.answer(502, f"upstream 127.0.0.1:{self.server.upstream_port}: {error}\n".encode())
            return
        finally:
            upstream.close()
        headers = [(name, value) for name, value in response.getheaders()
                   if name.lower() not in HOP_BY_HOP and name.lower() not in ("content-length", "date", "server")]
        head = self.command == "HEAD"
        length = int(response.getheader("Content-Length") or 0) if head else None
        self.answer(response.status, data, headers, head=head, length=length)
