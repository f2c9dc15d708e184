"""ISO-BMFF (MP4/MOV/3GP/HEIF) box helpers: brands of the ftyp box, truncation check."""

from __future__ import annotations

import os
import struct
from pathlib import Path

from .errors import CorruptMedia

__all__ = [
    "HEIC_BRANDS",
    "HEIF_BRANDS",
    "AVIF_BRANDS",
    "ftyp_brands",
    "file_brands",
    "check_iso_structure",
]

#: ftyp brands of HEVC-coded HEIF images (iPhone photos), of HEIF in general, of AVIF.
HEIC_BRANDS = frozenset({"heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs"})
HEIF_BRANDS = HEIC_BRANDS | {"mif1", "msf1"}
AVIF_BRANDS = frozenset({"avif", "avis"})


def ftyp_brands(head: bytes) -> tuple[str, set[str]] | None:
    """Major and compatible brands of an ISO-BMFF ``ftyp`` box at offset 0, else None."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return None
    size = struct.unpack(">I", head[:4])[0]
    end = min(size if size >= 16 else 16, len(head))
    major = head[8:12].decode("latin-1")
    compatible = {
        head[i:i + 4].decode("latin-1") for i in range(16, end - 3, 4)
    }
    return major, compatible


def file_brands(path: str | os.PathLike[str]) -> tuple[str, set[str]] | None:
    """:func:`ftyp_brands` of the file at ``path`` (None if it is not ISO-BMFF)."""
    with open(path, "rb") as fh:
        return ftyp_brands(fh.read(512))


def check_iso_structure(path: str | os.PathLike[str]) -> None:
    """Walk the top-level ISO-BMFF boxes: a box running past the end of the file, or no
    ``moov`` box at all, means an incomplete upload (the usual way phones' files get cut)."""
    path = Path(path)
    file_size = path.stat().st_size
    offset = 0
    seen_moov = False
    with open(path, "rb") as fh:
        while offset + 8 <= file_size:
            fh.seek(offset)
            header = fh.read(16)
            size, box_type = struct.unpack(">I4s", header[:8])
            name = box_type.decode("latin-1")
            if size == 1:
                if len(header) < 16:
                    break
                size = struct.unpack(">Q", header[8:16])[0]
            elif size == 0:  # box extends to the end of the file
                size = file_size - offset
            if size < 8:
                raise CorruptMedia(f"invalid MP4/MOV structure: box {name!r} has size {size}")
            if offset + size > file_size:
                raise CorruptMedia(
                    f"truncated MP4/MOV: the file ends inside its {name!r} box "
                    f"({file_size} of {offset + size} bytes)"
                )
            seen_moov = seen_moov or name == "moov"
            offset += size
    if not seen_moov:
        raise CorruptMedia("truncated MP4/MOV: moov atom not found")
