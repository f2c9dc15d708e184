"""SHA-256 of files and of streams as they are read."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import time
from pathlib import Path

import pytest

from media.fileutil import drop_cached, start_writeback, write_all
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
    """Pieces of every size in buffers reused only once released (as the upload service does), a digest for the
    whole stream and one for a few pieces only, and a backlog bound smaller than some pieces."""
    data = os.urandom(5 * 1024 * 1024 + 123)
    free = [bytearray(1024 * 1024) for _ in range(3)]
    sha256, sha1 = hashlib.sha256(), hashlib.sha1()
    sizes = [1, 100, 70_000, 1024 * 1024, 64 * 1024 - 1, 64 * 1024, 300_000]
    digest = BackgroundDigest(sha256, None, max_pending=1536 * 1024)
    pos = turn = 0
    while pos < len(data):
        while not free:
            time.sleep(0.001)
        buffer = free.pop()
        n = min(sizes[turn % len(sizes)], len(data) - pos)
        buffer[:n] = data[pos:pos + n]
        extra = sha1 if 2 <= turn < 5 else None
        digest.update(memoryview(buffer)[:n], extra=extra, release=lambda b=buffer: free.append(b))
        pos += n
        turn += 1
    digest.wait()
    assert sha256.hexdigest() == hashlib.sha256(data).hexdigest()
    assert digest.digests == [sha256]
    first_five = sum(sizes[:5])
    assert sha1.hexdigest() == hashlib.sha1(data[sum(sizes[:2]):first_five]).hexdigest()
    assert len(free) == 3  # every buffer came back


def test_background_digest_reports_a_failing_hash_object():
    class Broken:
        def update(self, _data: object) -> None:
            raise ValueError("disk on fire")

    digest = BackgroundDigest(Broken())
    digest.update(bytes(1024 * 1024))
    with pytest.raises(ValueError, match="disk on fire"):
        digest.wait()
    with pytest.raises(ValueError, match="disk on fire"):
        digest.update(b"more")


def test_writing_helpers_keep_every_byte(tmp_path):
    """write_all at the position and at offsets; writeback and cache advice change nothing in the contents."""
    data = os.urandom(3 * 1024 * 1024)
    with open(tmp_path / "out", "wb", buffering=0) as fh:
        write_all(fh.fileno(), memoryview(data)[:1000])
        write_all(fh.fileno(), memoryview(data)[2000:], 2000)
        write_all(fh.fileno(), data[1000:2000], 1000)
        start_writeback(fh.fileno(), 0, len(data))
        os.fsync(fh.fileno())
        drop_cached(fh.fileno(), 0, len(data))
    assert (tmp_path / "out").read_bytes() == data
    start_writeback(987654, 0, 10)  # bad descriptors: only advice lost, never an error
    drop_cached(987654, 0, 10)


def test_more_busy_digests_than_helper_threads_all_finish_correctly():
    """Forty uploads hashing at once share the process's few helper threads; none waits forever."""
    import threading

    pieces = [os.urandom(64 * 1024) for _ in range(8)]
    results: dict[int, str] = {}

    def upload(number: int) -> None:
        sha256 = hashlib.sha256()
        digest = BackgroundDigest(sha256, max_pending=128 * 1024)
        for _ in range(16):
            for piece in pieces:
                digest.update(piece)
        digest.wait()
        results[number] = sha256.hexdigest()

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    expected = hashlib.sha256(b"".join(pieces) * 16).hexdigest()
    assert results == {n: expected for n in range(40)}
