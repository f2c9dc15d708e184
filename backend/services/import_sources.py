"""Where an import's files are: a directory on the server or a zip archive. A manifest path only ever selects a file
inside the source (no absolute paths, no ``..``, no symlink out of it); files are read as streams, never whole."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterator, Protocol

from backend.services.import_manifest import CellError

_ZIP_UTF8_FLAG = 0x800
_ZIP_ENCRYPTED_FLAG = 0x1


@dataclass(frozen=True)
class Entry:
    """A file found in a source: where it is there (never a client-chosen path on our side) and its size."""

    name: str
    size: int
    locator: str | zipfile.ZipInfo


class Source(Protocol):
    kind: str

    def locate(self, manifest_path: str) -> Entry: ...

    def open(self, entry: Entry) -> BinaryIO: ...

    def local_path(self, entry: Entry, scratch: Path) -> contextlib.AbstractContextManager[Path]: ...

    def close(self) -> None: ...


def clean_parts(manifest_path: str) -> list[str]:
    """The folders and name of a manifest path (``/`` or ``\\`` between them, NFC), or CellError when it could
    point outside the source."""
    value = unicodedata.normalize("NFC", manifest_path.strip().replace("\\", "/"))
    if not value:
        raise CellError("missing_path", "缺少文件路径")
    if value.startswith("/") or (len(value) > 1 and value[1] == ":") or "\x00" in value:
        raise CellError("bad_path", "文件路径须为目录内的相对路径（不能以 / 或盘符开头）")
    parts = [part for part in value.split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise CellError("bad_path", "文件路径不能包含“..”")
    if not parts:
        raise CellError("bad_path", "文件路径无效")
    return parts


class DirectorySource:
    """A folder on the server (under LIUFANG_IMPORT_ROOT for the API; any folder for the command line)."""

    kind = "directory"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(str(root))

    def locate(self, manifest_path: str) -> Entry:
        parts = clean_parts(manifest_path)
        candidates = [self.root.joinpath(*parts)]
        decomposed = [unicodedata.normalize("NFD", part) for part in parts]  # as macOS writes names
        if decomposed != parts:
            candidates.append(self.root.joinpath(*decomposed))
        for candidate in candidates:
            if not os.path.lexists(candidate):
                continue
            real = candidate.resolve()
            if not real.is_relative_to(self.root):
                raise CellError("outside_source", "该路径（符号链接）指向导入目录之外")
            if not real.is_file():
                raise CellError("not_a_file", "该路径不是普通文件")
            return Entry(name=parts[-1], size=real.stat().st_size, locator=str(real))
        raise CellError("missing_file", "目录中找不到该文件")

    def names(self) -> list[str]:
        """Every regular file under the folder, as a relative path with ``/``."""
        return sorted(path.relative_to(self.root).as_posix() for path in self.root.rglob("*")
                      if path.is_file() and not path.is_symlink())

    def open(self, entry: Entry) -> BinaryIO:
        assert isinstance(entry.locator, str)
        return open(entry.locator, "rb")

    @contextlib.contextmanager
    def local_path(self, entry: Entry, scratch: Path) -> Iterator[Path]:
        assert isinstance(entry.locator, str)
        yield Path(entry.locator)

    def close(self) -> None:
        pass


def _member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as its maker meant it: zips from Chinese Windows store GBK names without the UTF-8 flag,
    which Python reads as CP437."""
    if info.flag_bits & _ZIP_UTF8_FLAG:
        return info.filename
    raw = info.filename.encode("cp437", errors="replace")
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


class ZipSource:
    """A zip archive: members are found by their (decoded, NFC) names and read as streams; nothing is extracted
    under a name from the archive."""

    kind = "archive"

    def __init__(self, path: Path) -> None:
        self._zip = zipfile.ZipFile(path)
        self._members: dict[str, zipfile.ZipInfo] = {}
        for info in self._zip.infolist():
            if info.is_dir():
                continue
            name = unicodedata.normalize("NFC", _member_name(info).replace("\\", "/")).strip("/")
            self._members.setdefault(name, info)
        tops = {name.split("/", 1)[0] for name in self._members}
        # A zip made by compressing a folder holds everything under that folder's name: paths may leave it out.
        self._prefix = f"{tops.pop()}/" if len(tops) == 1 and all("/" in n for n in self._members) else ""

    def names(self) -> list[str]:
        """Every member's name (without the folder a zip of one folder holds everything in)."""
        return sorted(name.removeprefix(self._prefix) for name in self._members)

    def locate(self, manifest_path: str) -> Entry:
        name = "/".join(clean_parts(manifest_path))
        info = self._members.get(name) or (self._members.get(self._prefix + name) if self._prefix else None)
        if info is None:
            raise CellError("missing_file", "压缩包中找不到该文件")
        if info.flag_bits & _ZIP_ENCRYPTED_FLAG:
            raise CellError("encrypted_file", "压缩包中的该文件已加密，无法读取")
        return Entry(name=PurePosixPath(name).name, size=info.file_size, locator=info)

    def open(self, entry: Entry) -> BinaryIO:
        assert isinstance(entry.locator, zipfile.ZipInfo)
        return self._zip.open(entry.locator)  # type: ignore[return-value]

    @contextlib.contextmanager
    def local_path(self, entry: Entry, scratch: Path) -> Iterator[Path]:
        """A temporary copy (sniffing needs a file), under a name of our own."""
        scratch.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=scratch, prefix="import-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, self.open(entry) as stream:
                shutil.copyfileobj(stream, out, 1024 * 1024)
            yield Path(name)
        finally:
            Path(name).unlink(missing_ok=True)

    def close(self) -> None:
        self._zip.close()


def open_source(path: Path) -> DirectorySource | ZipSource:
    """A directory, or a zip archive (by its content)."""
    if path.is_dir():
        return DirectorySource(path)
    if path.is_file() and zipfile.is_zipfile(path):
        return ZipSource(path)
    raise FileNotFoundError(str(path))
