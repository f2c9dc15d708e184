"""Local-filesystem storage: objects are files under a root directory, written atomically."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO, cast

from ..background import run_blocking
from ..errors import ObjectNotFound, StorageError
from ..fileutil import fsync
from ..hashing import HashingReader, ReadableStream
from .base import ObjectInfo, Storage, StoredObject, validate_key, validate_prefix

__all__ = ["LocalStorage"]

_TMP_PREFIX = ".tmp-"
_META_SUFFIX = ".content-type"


def _fsync_dir(path: Path) -> None:
    """Flush a directory entry change (a rename) to disk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fsync(fd)
    finally:
        os.close(fd)


class _RangeReader(io.RawIOBase):
    """Raw reader over an open file that stops after ``remaining`` bytes (None: to EOF)."""

    def __init__(self, fh: BinaryIO, remaining: int | None) -> None:
        super().__init__()
        self._fh = fh
        self._remaining = remaining

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        want = len(view) if self._remaining is None else min(len(view), self._remaining)
        if want <= 0:
            return 0
        n = self._fh.readinto(view[:want])  # type: ignore[attr-defined]
        n = n or 0
        if self._remaining is not None:
            self._remaining -= n
        return n

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
        super().close()


class LocalStorage(Storage):
    """Objects stored as files under ``root`` (key ``a/b/c`` is the file ``root/a/b/c``).

    Writes go to a hidden temp file in the destination directory, are fsync'ed, renamed over
    the destination with :func:`os.replace` and the directory is fsync'ed: readers see the
    old object or the complete new one, never a partial file, and a failed write removes
    its temp file. The content type given at write time is kept in a hidden sidecar file
    (``.<name>.content-type``) next to the object; hidden files are never listed as keys.
    """

    def __init__(self, root: str | os.PathLike[str], *, file_mode: int = 0o640) -> None:
        self.root = Path(root).expanduser().absolute()
        self.file_mode = file_mode
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"无法创建存储目录 / cannot create storage root {self.root}: {exc}") from exc

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    # -- paths -------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    @staticmethod
    def _meta_path(path: Path) -> Path:
        return path.with_name(f".{path.name}{_META_SUFFIX}")

    def _existing_file(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        return path

    # -- writing -----------------------------------------------------------------------
    def put_stream(
        self,
        key: str,
        stream: ReadableStream,
        *,
        size: int | None = None,
        content_type: str | None = None,
    ) -> StoredObject:
        target = self._path(key)
        parent = target.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=parent, prefix=_TMP_PREFIX, suffix=".part")
        except OSError as exc:
            raise StorageError(f"无法写入 / cannot write {key!r}: {exc}") from exc
        tmp = Path(tmp_name)
        reader = HashingReader(stream, chunk_size=self.chunk_size)
        try:
            with os.fdopen(fd, "wb") as out:
                os.fchmod(out.fileno(), self.file_mode)
                while chunk := reader.read(self.chunk_size):
                    out.write(chunk)
                    if size is not None and reader.bytes_read > size:
                        raise StorageError(
                            f"数据长度不符 / stream for {key!r} is longer than the declared {size} bytes"
                        )
                out.flush()
                fsync(out.fileno())
            if size is not None and reader.bytes_read != size:
                raise StorageError(
                    f"数据长度不符 / stream for {key!r} ended after {reader.bytes_read} of {size} bytes"
                )
            os.replace(tmp, target)
            self._write_content_type(target, content_type)
            _fsync_dir(parent)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            if isinstance(exc, OSError):
                raise StorageError(f"无法写入 / cannot write {key!r}: {exc}") from exc
            raise
        return StoredObject(key, reader.bytes_read, reader.sha256, content_type)

    def adopt_file(
        self, key: str, path: str | os.PathLike[str], *, sha256: str, content_type: str | None = None
    ) -> StoredObject:
        """Move the file into place (rename on the same filesystem: no copy, no second read of a big upload).
        Only files are touched (fsyncs, or a copy to another filesystem): under gevent it all runs on a helper
        thread."""
        return run_blocking(self._adopt_file, key, path, sha256, content_type)

    def _adopt_file(
        self, key: str, path: str | os.PathLike[str], sha256: str, content_type: str | None
    ) -> StoredObject:
        target = self._path(key)
        source = Path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(source, "rb") as fh:
                fsync(fh.fileno())
                size = os.fstat(fh.fileno()).st_size
            os.chmod(source, self.file_mode)
            os.replace(source, target)
        except OSError as exc:
            if getattr(exc, "errno", None) == errno.EXDEV:  # another filesystem: copy, check, then remove
                return super().adopt_file(key, path, sha256=sha256, content_type=content_type)
            raise StorageError(f"无法写入 / cannot write {key!r}: {exc}") from exc
        self._write_content_type(target, content_type)
        _fsync_dir(target.parent)
        _fsync_dir(source.parent)
        return StoredObject(key, size, sha256, content_type)

    def _write_content_type(self, target: Path, content_type: str | None) -> None:
        meta = self._meta_path(target)
        if content_type is None:
            with contextlib.suppress(FileNotFoundError):
                meta.unlink()
            return
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=_TMP_PREFIX, suffix=".meta")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(content_type)
                out.flush()
                fsync(out.fileno())
            os.replace(tmp_name, meta)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise

    # -- reading -----------------------------------------------------------------------
    def open_range(self, key: str, start: int = 0, length: int | None = None) -> BinaryIO:
        self._check_range(start, length)
        path = self._path(key)
        try:
            fh = open(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise StorageError(f"无法读取 / cannot read {key!r}: {exc}") from exc
        try:
            file_size = os.fstat(fh.fileno()).st_size
            if start >= file_size or length == 0:
                fh.close()
                return io.BytesIO(b"")
            fh.seek(start)
        except BaseException:
            fh.close()
            raise
        return cast(BinaryIO, io.BufferedReader(_RangeReader(cast(BinaryIO, fh), length)))

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise StorageError(f"无法读取 / cannot stat {key!r}: {exc}") from exc
        if not path.is_file():
            raise ObjectNotFound(key)
        try:
            content_type: str | None = self._meta_path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            content_type = None
        return ObjectInfo(
            key=key,
            size=st.st_size,
            modified_at=datetime.fromtimestamp(st.st_mtime, tz=timezone.utc),
            content_type=content_type,
        )

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            pass
        except IsADirectoryError:
            return  # a "directory" is not an object: nothing to delete
        except OSError as exc:
            raise StorageError(f"无法删除 / cannot delete {key!r}: {exc}") from exc
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            self._meta_path(path).unlink()

    def presigned_url(
        self,
        key: str,
        expires: timedelta,
        *,
        download_name: str | None = None,
        content_type: str | None = None,
    ) -> str | None:
        """Local disk has no URLs of its own: always None (the app streams the file)."""
        validate_key(key)
        return None

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        """Yield the object's own file (read-only use: do not modify or move it)."""
        yield self._existing_file(key)

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)
        base_dir = prefix.rpartition("/")[0]
        start = self.root.joinpath(*base_dir.split("/")) if base_dir else self.root
        if not start.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if key.startswith(prefix):
                    yield key
