"""Request bodies: small ones read whole before the app sees the request; large ones read into caller-owned buffers
(``readinto``), straight from gunicorn's socket when it can."""

from __future__ import annotations

import io
import socket
from typing import Any, Callable, Iterable, Mapping

from media.partial_upload import BodyReader

__all__ = ["open_body", "SmallBodiesFirst"]

# Bodies that stream to disk as they arrive (their views give the database connection back first).
STREAMED_TYPES = ("application/offset+octet-stream", "multipart/form-data")


class SmallBodiesFirst:
    """WSGI middleware: a body with a Content-Length within ``config["MAX_CONTENT_LENGTH"]`` (JSON, forms) is read
    whole before the app runs, so no view holds a database connection while a slow phone sends it; under gevent
    the read costs a waiting greenlet and nothing else. Upload bodies (tus chunks, multipart files) and larger ones
    are left to stream."""

    def __init__(self, app: Callable[..., Iterable[bytes]], config: Mapping[str, Any]) -> None:
        self.app, self.config = app, config

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        media_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        if 0 < length <= (self.config.get("MAX_CONTENT_LENGTH") or 0) and media_type not in STREAMED_TYPES:
            # A short read (the client went away) leaves a short body: Werkzeug then answers 400 as it would have.
            environ["wsgi.input"] = io.BytesIO(_read_up_to(environ["wsgi.input"], length))
        return self.app(environ, start_response)


def _read_up_to(stream: Any, length: int) -> bytes:
    parts, left = [], length
    while left:
        part = stream.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


class _GunicornSocketBody:
    """Body of a gunicorn request with a Content-Length, received with ``recv_into`` into the caller's buffer.

    gunicorn's own ``wsgi.input`` hands out ``bytes`` assembled in ``BytesIO`` buffers, copying every byte several
    times; at hundreds of MB/s those copies cost more than hashing and writing the data. This reader takes what
    gunicorn has already read past the headers, then reads the socket directly. It keeps gunicorn's count of the
    body left to read up to date, so after the view gunicorn drains whatever the view did not read and the next
    request on a keep-alive connection starts at the right byte.

    With ``idle_timeout`` (seconds), a read that waits longer than that for the next byte fails: a phone that lost
    its network often leaves its connection open for good, and the upload stays locked until the read ends.
    """

    def __init__(self, body: Any, reader: Any, unreader: Any, sock: socket.socket,
                 idle_timeout: float | None = None) -> None:
        self._body, self._reader, self._unreader, self._sock = body, reader, unreader, sock
        self._idle_timeout = idle_timeout

    def readinto(self, buffer: memoryview, /) -> int:
        want = min(len(buffer), self._reader.length)
        if want <= 0:
            return 0
        buffered = self._unreader.buf.getvalue()
        try:
            if buffered:
                n = min(want, len(buffered))
                buffer[:n] = buffered[:n]
                self._unreader.buf = io.BytesIO()
                self._unreader.buf.write(buffered[n:])  # may belong to a pipelined next request: keep it
            elif self._idle_timeout is None:
                n = self._sock.recv_into(buffer, want)
            else:
                restore = self._sock.gettimeout()
                self._sock.settimeout(self._idle_timeout)
                try:
                    n = self._sock.recv_into(buffer, want)
                finally:
                    self._sock.settimeout(restore)
        except BaseException:
            self._body.failed = True  # where the next request starts is unknown: gunicorn closes the connection
            raise
        self._reader.length -= n
        return n


class _StreamBody:
    """Any other WSGI input: ``readinto`` where the stream has it, else ``read`` and copy; at most ``length``."""

    def __init__(self, stream: Any, length: int | None) -> None:
        self._stream, self._left = stream, length
        self._readinto = getattr(stream, "readinto", None)

    def readinto(self, buffer: memoryview, /) -> int:
        want = len(buffer) if self._left is None else min(len(buffer), self._left)
        if want <= 0:
            return 0
        if self._readinto is not None:
            n = self._readinto(buffer[:want]) or 0
        else:
            data = self._stream.read(want)
            n = len(data)
            buffer[:n] = data
        if self._left is not None:
            self._left -= n
        return n


def _holds_bytes(buffer: io.BytesIO) -> bool:
    with buffer.getbuffer() as view:
        return view.nbytes > 0


def _gunicorn_body(environ: dict[str, Any], length: int, idle_timeout: float | None) -> _GunicornSocketBody | None:
    """The direct socket reader, if this is an untouched gunicorn HTTP/1 body of ``length`` bytes (else None)."""
    body, sock = environ.get("wsgi.input"), environ.get("gunicorn.socket")
    reader = getattr(body, "reader", None)
    unreader = getattr(reader, "unreader", None)
    if (sock is None or type(body).__module__ != "gunicorn.http.body" or type(reader).__name__ != "LengthReader"
            or not isinstance(getattr(body, "buf", None), io.BytesIO) or _holds_bytes(body.buf)
            or getattr(reader, "length", None) != length
            or getattr(unreader, "sock", None) is not sock or not isinstance(getattr(unreader, "buf", None), io.BytesIO)
            or not hasattr(sock, "recv_into") or sock.gettimeout() == 0.0):
        return None
    return _GunicornSocketBody(body, reader, unreader, sock, idle_timeout)


def open_body(environ: dict[str, Any], length: int | None, fallback: Any, *,
              idle_timeout: float | None = None) -> BodyReader:
    """A reader of the request body: ``length`` bytes from the WSGI input, or ``fallback`` (a stream that knows
    where a chunked body ends) when the length is not declared. ``idle_timeout``: see _GunicornSocketBody (other
    servers' inputs have their own timeouts, or none)."""
    if length is None:
        return _StreamBody(fallback, None)
    return _gunicorn_body(environ, length, idle_timeout) or _StreamBody(environ["wsgi.input"], length)
