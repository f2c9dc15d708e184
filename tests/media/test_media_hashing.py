"""SHA-256 of files and of streams as they are read."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from pathlib import Path

import pytest

from media.fileutil import start_writeback, write_all
from media.hashing import BackgroundDigest, HashingReader, sha256_file


def test_sha256_file(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000
    path = tmp_path / "录音.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert sha256_file(path, chunk_size=7) == hashlib.sha256(data).hexdigest()


def test_hashing_reader_counts_and_hashes_what_passes() -> None:
    data = b"liufang " * 10_000
    reader = HashingReader(io.BytesIO(data), chunk_size=1000)
    out = io.BytesIO()
    shutil.copyfileobj(reader, out, 4096)
    assert out.getvalue() == data
    assert reader.bytes_read == len(data)
    assert reader.sha256 == hashlib.sha256(data).hexdigest()


def test_hashing_reader_never_asks_for_more_than_requested() -> None:
    asked: list[int] = []

    class Spy(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            asked.append(-1 if size is None else size)
            return super().read(size)

    reader = HashingReader(Spy(b"x" * 10_000), chunk_size=512)
    assert reader.read(100) == b"x" * 100
    assert len(reader.read()) == 9_900  # read() to the end goes chunk by chunk
    assert max(asked) == 512 and all(size > 0 for size in asked)
    assert reader.read(10) == b"" and reader.eof


def test_fill_mode_returns_whole_requests_from_short_reads() -> None:
    class Trickle(io.RawIOBase):
        """Hands out at most 100 bytes per read, like a slow upload."""

        def __init__(self, data: bytes) -> None:
            super().__init__()
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def read(self, size: int | None = -1) -> bytes:
            return self._data.read(min(100, size if size is not None and size >= 0 else 100))

    data = bytes(range(256)) * 40
    reader = HashingReader(Trickle(data), chunk_size=64, fill=True)
    assert reader.read(5000) == data[:5000]
    assert reader.read(9999) == data[5000:]
    assert reader.read(10) == b""
    assert reader.sha256 == hashlib.sha256(data).hexdigest() and reader.bytes_read == len(data)


# --- BackgroundDigest --------------------------------------------------------------------------------------------

def test_background_digest_gives_the_same_digests_as_hashing_inline():
    """Pieces of every size, two buffers reused in turn (as the upload service does), two digests at once."""
    data = os.urandom(5 * 1024 * 1024 + 123)
    buffers = (bytearray(1024 * 1024), bytearray(1024 * 1024))
    sha256, sha1 = hashlib.sha256(), hashlib.sha1()
    sizes = [1, 100, 70_000, 1024 * 1024, 64 * 1024 - 1, 64 * 1024, 300_000]
    pos = turn = 0
    with BackgroundDigest(sha256, sha1, None) as digest:
        while pos < len(data):
            n = min(sizes[turn % len(sizes)], len(data) - pos)
            buffer = memoryview(buffers[turn % 2])
            buffer[:n] = data[pos:pos + n]
            digest.update(buffer[:n])
            pos += n
            turn += 1
        digest.wait()
        assert sha256.hexdigest() == hashlib.sha256(data).hexdigest()
    assert sha1.hexdigest() == hashlib.sha1(data).hexdigest()


def test_background_digest_reports_a_failing_hash_object():
    class Broken:
        def update(self, _data: object) -> None:
            raise ValueError("disk on fire")

    digest = BackgroundDigest(Broken())
    digest.update(bytes(1024 * 1024))
    with pytest.raises(ValueError, match="disk on fire"):
        digest.close()


def test_write_all_and_start_writeback_write_every_byte(tmp_path):
    data = os.urandom(3 * 1024 * 1024)
    with open(tmp_path / "out", "wb", buffering=0) as fh:
        write_all(fh.fileno(), memoryview(data))
        start_writeback(fh.fileno(), 0, len(data))
        os.fsync(fh.fileno())
    assert (tmp_path / "out").read_bytes() == data
    start_writeback(987654, 0, 10)  # a bad descriptor only means no head start: never an error
