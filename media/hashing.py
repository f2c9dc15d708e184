"""SHA-256 helpers: hash a file, hash and count a stream while it is being read, or hash beside I/O on a thread."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from os import PathLike
from typing import Any, Protocol

from .background import OrderedLane

__all__ = ["CHUNK_SIZE", "ReadableStream", "sha256_file", "HashingReader", "BackgroundDigest"]

#: Bytes read at a time by every streaming loop of this package.
CHUNK_SIZE = 1024 * 1024


class ReadableStream(Protocol):
    """Anything with a binary ``read(size)``: files, ``io.BytesIO``, WSGI input streams..."""

    def read(self, size: int = ..., /) -> bytes: ...


def sha256_file(path: str | PathLike[str], *, chunk_size: int = CHUNK_SIZE) -> str:
    """Return the lowercase hex SHA-256 of the file at ``path``, reading it in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


class HashingReader(io.RawIOBase):
    """Read-only wrapper that hashes (SHA-256) and counts every byte read through it.

    ``read(n)`` never asks the wrapped stream for more than ``n`` bytes, so memory stays
    bounded however large the stream is (``read()`` with no size reads to the end, as the
    file protocol requires). With ``fill=True``, ``read(n)`` keeps reading until it has
    ``n`` bytes or the stream ends (consumers that concatenate short reads, like the minio
    SDK building a multipart part, then get a part in one piece instead of copying it
    over and over). The wrapped stream is not closed by :meth:`close`.
    """

    def __init__(
        self, stream: ReadableStream, *, chunk_size: int = CHUNK_SIZE, fill: bool = False
    ) -> None:
        super().__init__()
        self._stream = stream
        self._chunk_size = chunk_size
        self._fill = fill
        self._digest = hashlib.sha256()
        self.bytes_read = 0
        self.eof = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Read up to ``size`` bytes; everything left when ``size`` is negative or None."""
        if size is None or size < 0:
            return self.readall()
        if size == 0 or self.eof:
            return b""
        if not self._fill:
            return self._read_once(size)
        parts: list[bytes] = []
        wanted = size
        while wanted > 0:
            data = self._read_once(min(wanted, max(self._chunk_size, 1)))
            if not data:
                break
            parts.append(data)
            wanted -= len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _read_once(self, size: int) -> bytes:
        data = self._stream.read(size)
        if data is None:  # non-blocking raw stream with nothing available
            return b""
        if not isinstance(data, bytes):
            data = bytes(data)
        if data:
            self._digest.update(data)
            self.bytes_read += len(data)
        else:
            self.eof = True
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        n = len(data)
        memoryview(buffer).cast("B")[:n] = data
        return n

    def readall(self) -> bytes:
        """Read to the end of the stream (memory grows with what is left: avoid on big streams)."""
        parts = []
        while chunk := self.read(self._chunk_size):
            parts.append(chunk)
        return b"".join(parts)

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes read so far."""
        return self._digest.hexdigest()


class BackgroundDigest:
    """Hash objects fed on a helper thread, in order (an :class:`~media.background.OrderedLane`), so hashing
    overlaps receiving and writing. ``update(data)`` queues ``data`` (and ``extra``, a digest for this piece
    only); ``wait()`` returns once all of it is hashed; ``release`` is called when ``data`` may be reused."""

    def __init__(self, *digests: Any, max_pending: int = 8 * CHUNK_SIZE) -> None:
        self.digests = [digest for digest in digests if digest is not None]
        self._lane = OrderedLane(self._apply, max_pending=max_pending)

    def _apply(self, data: bytes | bytearray | memoryview, extra: Any) -> None:
        for digest in self.digests:
            digest.update(data)
        if extra is not None:
            extra.update(data)

    def update(self, data: bytes | bytearray | memoryview, *, extra: Any = None,
               release: Callable[[], None] | None = None) -> None:
        self._lane.submit(data, extra, release)

    def wait(self) -> None:
        self._lane.wait()
