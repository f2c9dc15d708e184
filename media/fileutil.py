"""File output helpers: atomic files (temp file, fsync, rename), complete writes, fsync off the event loop, early
writeback to disk."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from .background import run_blocking
from .errors import CorruptMedia

__all__ = ["atomic_output", "FILE_MODE", "write_all", "fsync", "start_writeback", "drop_cached"]

_SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start writeback of dirty pages in the range, do not wait for it


def _default_file_mode() -> int:
    """Mode a plain ``open(..., "w")`` would give (0o666 minus the umask), read without
    changing the process umask (Linux /proc), else 0o644."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o644


#: Permissions given to finished output files.
FILE_MODE = _default_file_mode()


@contextlib.contextmanager
def atomic_output(dst: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path beside ``dst`` (same suffix) for the caller to fill.

    When the block succeeds the temp file is fsync'ed and renamed over ``dst`` (an empty
    result raises CorruptMedia instead); when it fails the temp file is removed, so ``dst``
    is never left half-written.
    """
    target = Path(dst)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}"
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise CorruptMedia("no output was produced (nothing decodable)")
        with open(tmp, "rb") as fh:
            fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_all(fd: int, data: bytes | bytearray | memoryview, offset: int | None = None) -> None:
    """Write all of ``data`` at ``offset`` (default: the descriptor's position); ``os.write`` may write less."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view) if offset is None else os.pwrite(fd, view, offset)
        view = view[written:]
        if offset is not None:
            offset += written


def fsync(fd: int) -> None:
    """``os.fsync``, which waits for the disk: on a helper thread under gevent, so other requests go on."""
    run_blocking(os.fsync, fd)


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing ``length`` bytes at ``offset`` to disk now, without waiting (Linux
    ``sync_file_range``; elsewhere nothing). A later ``fsync`` then waits only for what is still in flight, so
    disk writes overlap the receiving of more data instead of all happening at the fsync. Not a durability
    guarantee by itself: only ``fsync`` is."""
    function = _sync_file_range()
    if function is not None:
        function(fd, offset, length, _SYNC_FILE_RANGE_WRITE)  # a failure only means no head start


def drop_cached(fd: int, offset: int, length: int) -> None:
    """Tell the kernel the page cache need not keep this range of the file (after an fsync, so the pages are
    clean and simply freed). A large upload then does not push other files out of the cache, and writing the
    next piece does not first have to reclaim memory (which halves write speed once the cache is full)."""
    advise = getattr(os, "posix_fadvise", None)
    if advise is not None and length > 0:
        try:
            advise(fd, offset, length, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass  # advice only
