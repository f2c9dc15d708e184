"""Partial uploads on local disk: bytes appended at an fsync'd offset, one writer at a time, hashed as they come."""

from __future__ import annotations

import enum
import fcntl
import functools
import hashlib
import logging
import os
import secrets
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Protocol, Self

from .errors import PartialUploadBusy, PartialUploadIncomplete
from .background import run_blocking
from .fileutil import drop_cached, fsync, start_writeback, write_all
from .hashing import BackgroundDigest

__all__ = [
    "COMMIT_EVERY",
    "PIPELINE_BYTES",
    "READ_SIZE",
    "AppendOutcome",
    "Appended",
    "BodyReader",
    "LockedUpload",
    "PartialUploadStore",
    "is_upload_id",
    "new_upload_id",
]

log = logging.getLogger(__name__)

READ_SIZE = 1024 * 1024            # bytes read from a body at a time, once it arrives fast
SMALL_READ_SIZE = 64 * 1024        # bytes read at a time until then
COMMIT_EVERY = 32 * 1024 * 1024    # a long append without a chunk checksum makes its progress durable this often
PIPELINE_BYTES = 4 * READ_SIZE      # received bytes that may wait to be hashed (an append returns without waiting)
DIGESTS_KEPT = 256                  # running whole-file digests a store keeps in memory
_ID_LENGTH = 32
_ID_CHARS = frozenset("0123456789abcdef")


def new_upload_id() -> str:
    """A fresh server-made id (the only kind of name the store puts on disk)."""
    return secrets.token_hex(_ID_LENGTH // 2)


def is_upload_id(text: str) -> bool:
    return len(text) == _ID_LENGTH and set(text) <= _ID_CHARS


class BodyReader(Protocol):
    """A body read into buffers the store owns; 0 means it ended (or the client went away)."""

    def readinto(self, buffer: memoryview, /) -> int: ...


class AppendOutcome(enum.Enum):
    COMPLETE = "complete"                    # the body ended at its declared length (or where a chunked one ended)
    CUT_OFF = "cut_off"                      # the body ended before its declared length, or reading it failed
    OVERFLOW = "overflow"                    # the body went on past the upload's length
    CHECKSUM_MISMATCH = "checksum_mismatch"  # the chunk's bytes do not match the checksum given for them


@dataclass(frozen=True)
class Appended:
    """What an append left: the committed offset now, how the body ended, and whether its bytes were thrown away
    (a chunk that came with a checksum is kept whole or not at all)."""

    offset: int
    outcome: AppendOutcome
    discarded: bool = False


class _BufferPool:
    """Receive buffers handed back once their bytes are written and hashed, so a busy process does not allocate
    (and page-fault) a fresh one per read; at most ``keep`` spare ones are held. Safe from any thread without a
    lock (deque operations are atomic), as the hashing helpers hand buffers back from native threads."""

    def __init__(self, size: int, keep: int) -> None:
        self.size, self._keep = size, keep
        self._spare: deque[bytearray] = deque()

    def get(self) -> bytearray:
        try:
            return self._spare.pop()
        except IndexError:
            return bytearray(self.size)

    def put(self, buffer: bytearray) -> None:
        if len(self._spare) < self._keep:
            self._spare.append(buffer)


# A body is read into small buffers until one comes back full: a phone on a slow network (or a stalled one, that
# sits in a read) then holds 64 KiB, not a megabyte, and a fast client is read a megabyte at a time.
_buffers = _BufferPool(READ_SIZE, keep=PIPELINE_BYTES // READ_SIZE + 2)
_small_buffers = _BufferPool(SMALL_READ_SIZE, keep=64)


class PartialUploadStore:
    """The bytes of unfinished uploads in ``directory``, three files per upload id: the data, the committed offset
    (a fixed-size record) and the lock file. Needs no database: the offset on disk is the truth.

    Several stores (threads, gunicorn worker processes) may share a directory; the per-upload flock keeps to one
    writer at a time. A store keeps the running whole-file SHA-256 of the uploads it appended to, so the next
    append continues it; any other store rebuilds it from the data file.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._digests: OrderedDict[str, tuple[int, BackgroundDigest]] = OrderedDict()
        self._digests_lock = threading.Lock()

    # --- files ---------------------------------------------------------------------------------------------------

    def _paths(self, upload_id: str) -> tuple[Path, Path, Path]:
        """The data file, the committed-offset marker and the lock file of an upload."""
        if not is_upload_id(upload_id):
            raise ValueError(f"not an upload id: {upload_id!r}")
        base = self.directory
        return base / upload_id, base / f"{upload_id}.offset", base / f"{upload_id}.lock"

    def data_path(self, upload_id: str) -> Path:
        return self._paths(upload_id)[0]

    def create(self, upload_id: str) -> None:
        """Make the (empty, fsynced) data file of a new upload, and the directory first if need be."""
        data, _, _ = self._paths(upload_id)
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(data, "xb") as fh:
            fsync(fh.fileno())

    def offset(self, upload_id: str) -> int:
        """Bytes that are on disk *and* were fsynced before the marker was written: the offset to report.

        A write that a kill -9 or power cut interrupted after the last marker is never reported; the next append
        truncates it away first. No marker yet means nothing was committed.
        """
        data, marker, _ = self._paths(upload_id)
        try:
            size = data.stat().st_size
        except FileNotFoundError:
            return 0
        try:
            committed = int(marker.read_text(encoding="ascii").strip() or 0)
        except (FileNotFoundError, ValueError):
            committed = 0
        return max(0, min(size, committed))

    def lock(self, upload_id: str) -> LockedUpload:
        """Take the upload's exclusive lock now (an flock, so it holds across threads and processes) or raise
        :class:`PartialUploadBusy`; use the result as a context manager that releases it."""
        _, _, lock_path = self._paths(upload_id)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise PartialUploadBusy(upload_id) from None
        return LockedUpload(self, upload_id, fd)

    def delete(self, upload_id: str, *, keep_lock: bool = False) -> None:
        """Remove the upload's bytes (and its lock file, unless ``keep_lock``: someone may be waiting to take it)."""
        data, marker, lock = self._paths(upload_id)
        for path in (data, marker) + (() if keep_lock else (lock,)):
            path.unlink(missing_ok=True)
        with self._digests_lock:
            self._digests.pop(upload_id, None)

    def remove_lock(self, upload_id: str) -> None:
        self._paths(upload_id)[2].unlink(missing_ok=True)

    def leftover_ids(self) -> set[str]:
        """Ids of every upload with any file in the directory."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return set()
        return {name for name in (entry.split(".")[0] for entry in names) if is_upload_id(name)}

    # --- whole-file SHA-256, continued across appends ---------------------------------------------------------------

    def _digest_at(self, upload_id: str, offset: int) -> BackgroundDigest:
        """The whole-file SHA-256 of the first ``offset`` bytes, as a background digest that more bytes can be
        queued into: this store's running one (it may still be hashing the end of the previous append), or one
        rebuilt from the data file (after a restart, or when the previous append went to another process)."""
        with self._digests_lock:
            cached = self._digests.pop(upload_id, None)
        if cached is not None and cached[0] == offset:
            return cached[1]
        hasher = run_blocking(self._hash_prefix, upload_id, offset) if offset else hashlib.sha256()
        return BackgroundDigest(hasher, max_pending=PIPELINE_BYTES)

    def _hash_prefix(self, upload_id: str, offset: int) -> Any:
        """SHA-256 of the first ``offset`` bytes of the data file (a whole upload, perhaps: off the event loop)."""
        hasher = hashlib.sha256()
        remaining = offset
        try:
            with open(self.data_path(upload_id), "rb") as fh:
                while remaining:
                    block = fh.read(min(READ_SIZE, remaining))
                    if not block:
                        raise PartialUploadIncomplete(upload_id, offset)
                    hasher.update(block)
                    remaining -= len(block)
        except FileNotFoundError:
            raise PartialUploadIncomplete(upload_id, offset) from None
        return hasher

    def _remember_digest(self, upload_id: str, offset: int, digest: BackgroundDigest) -> None:
        with self._digests_lock:
            self._digests[upload_id] = (offset, digest)
            self._digests.move_to_end(upload_id)
            while len(self._digests) > DIGESTS_KEPT:
                self._digests.popitem(last=False)


def _write_durably(fd: int, marker: Path, offset: int) -> None:
    """fsync the data file, then write and fdatasync the offset marker (both wait for the disk)."""
    os.fsync(fd)
    marker_fd = os.open(marker, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.pwrite(marker_fd, b"%020d\n" % offset, 0)
        os.fdatasync(marker_fd)
    finally:
        os.close(marker_fd)


class LockedUpload:
    """One upload's bytes while this holder has its lock: the only way to append to them."""

    def __init__(self, store: PartialUploadStore, upload_id: str, lock_fd: int) -> None:
        self.store, self.upload_id = store, upload_id
        self._lock_fd: int | None = lock_fd

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()

    def release(self) -> None:
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def path(self) -> Path:
        return self.store.data_path(self.upload_id)

    @property
    def offset(self) -> int:
        return self.store.offset(self.upload_id)

    def sha256(self) -> str:
        """Hex SHA-256 of the committed bytes (waits for hashing still under way); raises
        :class:`PartialUploadIncomplete` if the data file is shorter than the committed offset."""
        offset = self.offset
        digest = self.store._digest_at(self.upload_id, offset)
        digest.wait()
        self.store._remember_digest(self.upload_id, offset, digest)
        return digest.digests[0].hexdigest()

    def _commit(self, fh: BinaryIO, offset: int) -> None:
        """fsync the data, then record ``offset`` as durable: a fixed-size record overwritten in place and
        fdatasync'ed (one sector: it is either the old or the new number, never a mix)."""
        fh.flush()
        _, marker, _ = self.store._paths(self.upload_id)
        run_blocking(_write_durably, fh.fileno(), marker, offset)

    def append(self, body: BodyReader, *, length: int, content_length: int | None = None,
               checksum: tuple[str, bytes] | None = None) -> Appended:
        """Write ``body`` after the committed offset, up to the upload's ``length``, and commit what was kept.

        ``content_length`` is how many bytes the body declares (None: read until it ends); fewer is a cut-off
        body, whose bytes are kept up to the last one received, unless ``checksum`` (algorithm, digest) came
        with it: then the chunk is kept only whole and matching, else discarded. Anything written after the
        last commit (an interrupted write) is truncated away first. Raises :class:`PartialUploadIncomplete`
        if the bytes already committed are no longer all there.

        Each piece is read into a pooled buffer, written, then queued for hashing on a helper thread, so
        receiving, writing and hashing run side by side and no byte is copied in Python. Without a checksum this
        returns before the hashing ends (it finishes while the client sends the next chunk); with one it waits,
        since the chunk's digest decides the outcome.
        """
        if self._lock_fd is None:
            raise RuntimeError("append() after the upload's lock was released")
        upload_id = self.upload_id
        start = self.offset
        digest = self.store._digest_at(upload_id, start)
        before = None
        algorithm, expected_digest = checksum if checksum is not None else ("", b"")
        chunk_hash = hashlib.new(algorithm) if algorithm else None
        if chunk_hash is not None:
            digest.wait()
            before = digest.digests[0].copy()
        room = length - start
        received = committed = 0
        overflow = cut_off = False
        data = self.path
        with open(data, "r+b" if data.exists() else "w+b", buffering=0) as fh:
            if os.fstat(fh.fileno()).st_size != start:
                fh.truncate(start)
            fd = fh.fileno()
            pool, unstarted = _small_buffers, start  # writeback is started a megabyte at a time
            while content_length is None or received < content_length:
                buffer = pool.get()
                want = pool.size if content_length is None else min(pool.size, content_length - received)
                try:
                    n = body.readinto(memoryview(buffer)[:want])
                except Exception as exc:  # WSGI servers report a vanished client in their own ways
                    log.info("upload %s: body cut off after %s bytes (%s)", upload_id, received, exc)
                    n, cut_off = 0, True
                if not n or received + n > room:
                    pool.put(buffer)
                    overflow = bool(n)
                    cut_off = cut_off or (not n and content_length is not None)
                    break
                piece = memoryview(buffer)[:n]
                write_all(fd, piece, start + received)
                digest.update(piece, extra=chunk_hash, release=functools.partial(pool.put, buffer))
                received += n
                if start + received - unstarted >= READ_SIZE:
                    start_writeback(fd, unstarted, start + received - unstarted)
                    unstarted = start + received
                if n == pool.size:
                    pool = _buffers
                elif n < SMALL_READ_SIZE:
                    pool = _small_buffers
                if chunk_hash is None and received - committed >= COMMIT_EVERY:
                    self._commit(fh, start + received)
                    drop_cached(fd, start + committed, received - committed)
                    committed = received
            if chunk_hash is not None:
                digest.wait()
                if cut_off or overflow or chunk_hash.digest() != expected_digest:
                    fh.truncate(start)
                    self._commit(fh, start)
                    restored = BackgroundDigest(before, max_pending=PIPELINE_BYTES)
                    self.store._remember_digest(upload_id, start, restored)
                    outcome = (AppendOutcome.OVERFLOW if overflow else AppendOutcome.CUT_OFF if cut_off
                               else AppendOutcome.CHECKSUM_MISMATCH)
                    return Appended(start, outcome, discarded=True)
            self._commit(fh, start + received)
            drop_cached(fd, start + committed, received - committed)
        end = start + received
        self.store._remember_digest(upload_id, end, digest)
        outcome = (AppendOutcome.OVERFLOW if overflow else AppendOutcome.CUT_OFF if cut_off
                   else AppendOutcome.COMPLETE)
        return Appended(end, outcome)
