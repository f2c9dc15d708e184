"""Atomic output files: write to a temp file beside the target, then rename it into place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import CorruptMedia

__all__ = ["atomic_output", "FILE_MODE"]


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
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
