"""BagIt 1.0 bags (RFC 8493) written straight into one zip or tar file, each payload file hashed (SHA-256 and
SHA-512) while it is copied in, and read back entry by entry for checking."""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from .hashing import CHUNK_SIZE

__all__ = ["ALGORITHMS", "BagEntry", "BagReader", "BagWriter", "Written", "encode_path", "decode_path",
           "parse_manifest", "parse_bag_info"]

ALGORITHMS = ("sha256", "sha512")
BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
Format = Literal["zip", "tar"]
# Media is already compressed: storing it is as small and much faster; text (XML, JSON, VTT) is deflated.
_DEFLATE_SUFFIXES = (".xml", ".json", ".vtt", ".txt")


def encode_path(path: str) -> str:
    """A path as a manifest line holds it (RFC 8493 §2.1.3: %, CR and LF percent-encoded)."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def decode_path(text: str) -> str:
    return text.replace("%0A", "\n").replace("%0a", "\n").replace("%0D", "\r").replace("%0d", "\r") \
        .replace("%25", "%")


@dataclass(frozen=True, slots=True)
class Written:
    """One file as it went into the bag: its path (``data/...``), size and digests."""

    path: str
    size: int
    sha256: str
    sha512: str


class _HashingCopy:
    def __init__(self) -> None:
        self.sha256, self.sha512, self.size = hashlib.sha256(), hashlib.sha512(), 0

    def update(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        self.sha512.update(chunk)
        self.size += len(chunk)


class _HashingReader(io.RawIOBase):
    """Hands tarfile the stream's bytes, hashing them on the way."""

    def __init__(self, stream: BinaryIO, digest: _HashingCopy) -> None:
        self._stream, self._digest = stream, digest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size if size is not None and size >= 0 else CHUNK_SIZE)
        self._digest.update(chunk)
        return chunk


class BagWriter:
    """Writes a bag named ``name`` (the archive's top folder) into ``target``: add payload files under ``data/``
    in any order, then ``finish`` writes bagit.txt, bag-info.txt, the manifests and tag manifests."""

    def __init__(self, target: Path, name: str, fmt: Format = "zip") -> None:
        self.name, self.format = name, fmt
        self.payload: list[Written] = []
        self._mtime = time.time()
        if fmt == "zip":
            self._zip: zipfile.ZipFile | None = zipfile.ZipFile(target, "w", allowZip64=True)
            self._tar: tarfile.TarFile | None = None
        else:
            self._zip, self._tar = None, tarfile.open(target, "w", format=tarfile.PAX_FORMAT, encoding="utf-8")

    def _arcname(self, path: str) -> str:
        return f"{self.name}/{path}"

    def add_stream(self, path: str, stream: BinaryIO, size: int) -> Written:
        """Copy ``size`` bytes of ``stream`` to ``path`` (``data/...``), hashing them as they go."""
        digest = _HashingCopy()
        if self._zip is not None:
            info = zipfile.ZipInfo(self._arcname(path), date_time=time.localtime(self._mtime)[:6])
            info.compress_type = zipfile.ZIP_DEFLATED if path.endswith(_DEFLATE_SUFFIXES) else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            with self._zip.open(info, "w", force_zip64=size > 2**31) as out:
                while chunk := stream.read(CHUNK_SIZE):
                    digest.update(chunk)
                    out.write(chunk)
        else:
            assert self._tar is not None
            info = tarfile.TarInfo(self._arcname(path))
            info.size, info.mtime, info.mode = size, int(self._mtime), 0o644
            self._tar.addfile(info, _HashingReader(stream, digest))  # type: ignore[arg-type]
        written = Written(path, digest.size, digest.sha256.hexdigest(), digest.sha512.hexdigest())
        if path.startswith("data/"):
            self.payload.append(written)
        return written

    def add_bytes(self, path: str, data: bytes) -> Written:
        return self.add_stream(path, io.BytesIO(data), len(data))

    def finish(self, bag_info: list[tuple[str, str]]) -> dict[str, dict[str, str]]:
        """Write the tag files and close; returns {tag file: {algorithm: digest}} of every tag file."""
        payload_bytes = sum(item.size for item in self.payload)
        info = [*bag_info, ("Payload-Oxum", f"{payload_bytes}.{len(self.payload)}")]
        tags: list[Written] = [self.add_bytes("bagit.txt", BAGIT_TXT),
                               self.add_bytes("bag-info.txt", _bag_info_text(info).encode("utf-8"))]
        for algorithm in ALGORITHMS:
            lines = "".join(f"{getattr(item, algorithm)}  {encode_path(item.path)}\n" for item in self.payload)
            tags.append(self.add_bytes(f"manifest-{algorithm}.txt", lines.encode("utf-8")))
        for algorithm in ALGORITHMS:
            lines = "".join(f"{getattr(item, algorithm)}  {encode_path(item.path)}\n" for item in tags)
            self.add_bytes(f"tagmanifest-{algorithm}.txt", lines.encode("utf-8"))
        self.close()
        return {item.path: {"sha256": item.sha256, "sha512": item.sha512} for item in tags}

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._tar is not None:
            self._tar.close()


def _bag_info_text(items: list[tuple[str, str]]) -> str:
    return "".join(f"{label}: {' '.join(str(value).split())}\n" for label, value in items)


def parse_manifest(text: str) -> dict[str, str]:
    """{path: digest} of a manifest's lines."""
    entries = {}
    for line in text.splitlines():
        if line.strip():
            digest, _, path = line.partition(" ")
            entries[decode_path(path.lstrip(" *"))] = digest.strip().lower()
    return entries


def parse_bag_info(text: str) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and items:
            items[-1] = (items[-1][0], f"{items[-1][1]} {line.strip()}")
        elif ":" in line:
            label, _, value = line.partition(":")
            items.append((label.strip(), value.strip()))
    return items


@dataclass(slots=True)
class BagEntry:
    """A file in a bag archive: its path inside the bag, size, and whether the archive encrypts it."""

    path: str
    size: int
    encrypted: bool = False
    _member: object = field(default=None, repr=False)


class BagReader:
    """Reads a bag from a zip or tar file: its entries (paths relative to the bag's top folder), their bytes."""

    def __init__(self, source: Path) -> None:
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        self.entries: dict[str, BagEntry] = {}
        names: list[tuple[str, BagEntry]] = []
        if zipfile.is_zipfile(source):
            self._zip = zipfile.ZipFile(source)
            for info in self._zip.infolist():
                if not info.is_dir():
                    names.append((info.filename, BagEntry("", info.file_size, bool(info.flag_bits & 0x1), info)))
        else:
            self._tar = tarfile.open(source, "r:*", encoding="utf-8")
            for member in self._tar.getmembers():
                if member.isfile():
                    names.append((member.name, BagEntry("", member.size, False, member)))
        tops = {name.split("/", 1)[0] for name, _ in names}
        self.name = tops.pop() if len(tops) == 1 else ""
        for name, entry in names:
            entry.path = name.split("/", 1)[1] if self.name and "/" in name else name
            self.entries[entry.path] = entry

    def open(self, path: str) -> BinaryIO:
        entry = self.entries[path]
        if self._zip is not None:
            return self._zip.open(entry._member)  # type: ignore[arg-type]
        assert self._tar is not None
        stream = self._tar.extractfile(entry._member)  # type: ignore[arg-type]
        assert stream is not None
        return stream

    def read_text(self, path: str) -> str | None:
        if path not in self.entries:
            return None
        with self.open(path) as stream:
            return stream.read().decode("utf-8", errors="replace")

    def digests(self, path: str) -> dict[str, str]:
        """sha256 and sha512 of an entry, read once."""
        digest = _HashingCopy()
        with self.open(path) as stream:
            while chunk := stream.read(CHUNK_SIZE):
                digest.update(chunk)
        return {"sha256": digest.sha256.hexdigest(), "sha512": digest.sha512.hexdigest()}

    def extract(self, path: str, target: Path) -> None:
        with self.open(path) as stream, open(target, "wb") as out:
            while chunk := stream.read(CHUNK_SIZE):
                out.write(chunk)

    def iter_payload(self) -> Iterator[BagEntry]:
        return (entry for path, entry in sorted(self.entries.items()) if path.startswith("data/"))

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._tar is not None:
            self._tar.close()

    def __enter__(self) -> "BagReader":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
