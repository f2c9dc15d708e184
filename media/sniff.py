"""Decide a file's real media type from its bytes (magic numbers + ffprobe), never its name."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import filetype

from . import ffmpeg as ff
from .errors import CorruptMedia, UnsupportedMedia
from .images import check_image_header
from .isobmff import AVIF_BRANDS, HEIC_BRANDS, HEIF_BRANDS, check_iso_structure, ftyp_brands
from .pdf import pdf_info

__all__ = ["Kind", "Sniffed", "sniff", "ACCEPTED"]

Kind = Literal["audio", "video", "image", "document"]

#: Human-readable list of what uploads may be (for error messages and API docs).
ACCEPTED = (
    "audio: m4a/aac, mp3, wav, amr, 3gp, ogg/opus, flac; "
    "video: mp4/mov (H.264/HEVC), 3gp, webm, mkv; "
    "images: jpeg, png, heic/heif, webp; documents: pdf"
)

_HEAD_BYTES = 8192

# filetype verdicts (besides ISO-BMFF, handled first) that may be accepted audio/video.
_AV_MAGIC = frozenset({
    "audio/aac", "audio/mpeg", "audio/ogg", "audio/x-flac", "audio/x-wav", "audio/amr",
    "video/x-matroska", "video/webm",
})
_IMAGE_MAGIC = {
    "image/jpeg": ("image/jpeg", "jpg"),
    "image/png": ("image/png", "png"),
    "image/webp": ("image/webp", "webp"),
}
# Audio-only formats by ffprobe demuxer name.
_AUDIO_FORMATS = {
    "mp3": ("audio/mpeg", "mp3"),
    "aac": ("audio/aac", "aac"),
    "wav": ("audio/wav", "wav"),
    "flac": ("audio/flac", "flac"),
    "amr": ("audio/amr", "amr"),
    "amrnb": ("audio/amr", "amr"),
    "amrwb": ("audio/amr-wb", "amr"),
}
# (container family, kind) -> (mime, extension)
_CONTAINER_TYPES = {
    ("mp4", "video"): ("video/mp4", "mp4"),
    ("mp4", "audio"): ("audio/mp4", "m4a"),
    ("mov", "video"): ("video/quicktime", "mov"),
    ("mov", "audio"): ("audio/mp4", "m4a"),
    ("3gp", "video"): ("video/3gpp", "3gp"),
    ("3gp", "audio"): ("audio/3gpp", "3gp"),
    ("webm", "video"): ("video/webm", "webm"),
    ("webm", "audio"): ("audio/webm", "webm"),
    ("mkv", "video"): ("video/x-matroska", "mkv"),
    ("mkv", "audio"): ("audio/x-matroska", "mka"),
}


@dataclass(frozen=True, slots=True)
class Sniffed:
    """The real type of a file: ``kind`` (audio/video/image/document), MIME type and the
    extension to use when a filename is needed (without the dot)."""

    kind: Kind
    mime: str
    extension: str


def _unsupported(what: str) -> UnsupportedMedia:
    return UnsupportedMedia(
        f"不支持的文件类型 / unsupported file type: {what}. 可接受 / accepted: {ACCEPTED}"
    )


def _iso_family(major: str) -> str:
    if major.startswith(("3gp", "3g2", "3ge", "3gg", "3gs")):
        return "3gp"
    if major == "qt  ":
        return "mov"
    return "mp4"


def _sniff_av(path: Path, family: str | None) -> Sniffed:
    """Use ffprobe to check the streams; ``family`` is the container known from magic."""
    info = ff.probe(path)
    demuxers = set(str(info.get("format") or "").split(","))
    if not demuxers & ff.ALLOWED_DEMUXERS:
        raise _unsupported(f"media container {info.get('format')}")
    if info["has_video"]:
        kind: Kind = "video"
    elif info["has_audio"]:
        kind = "audio"
    else:
        raise UnsupportedMedia("文件中没有音频或视频 / the file holds no audio or video stream")
    if family is not None:
        mime, ext = _CONTAINER_TYPES[(family, kind)]
        return Sniffed(kind, mime, ext)
    if "ogg" in demuxers:
        if kind == "video":
            raise _unsupported("Ogg video")
        return Sniffed("audio", "audio/ogg", "opus" if info["audio_codec"] == "opus" else "ogg")
    for name in demuxers:
        if name in _AUDIO_FORMATS:
            if kind == "video":
                raise _unsupported(f"{name} with a video stream")
            mime, ext = _AUDIO_FORMATS[name]
            return Sniffed("audio", mime, ext)
    raise _unsupported(f"media container {info.get('format')}")


def sniff(path: str | os.PathLike[str]) -> Sniffed:
    """Return the real type of the file at ``path``, judged only from its content.

    Accepts audio (m4a/aac, mp3, wav, amr, 3gp, ogg/opus, flac), video (mp4/mov incl.
    HEVC, 3gp, webm, mkv), images (jpeg, png, heic/heif, webp) and PDF. A video container
    with only audio streams (cover art aside) is ``audio``. Raises UnsupportedMedia for
    anything else (executables, archives, text, AVIF, AVI...) and for password-protected
    PDFs or pictures over :data:`media.images.MAX_PIXELS`; CorruptMedia for an empty file
    or an accepted type that cannot be read (a truncated MP4, a damaged PDF...). Images and
    PDFs are only opened (headers, PDF cross-reference table), not decoded; audio/video are
    checked with ffprobe.
    """
    src = Path(path)
    with open(src, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
    if not head:
        raise CorruptMedia("empty file (0 bytes)")

    brands = ftyp_brands(head)
    if brands is not None:
        major, compatible = brands
        all_brands = {major} | compatible
        if major in AVIF_BRANDS or (major in {"mif1", "msf1"} and compatible & AVIF_BRANDS
                                     and not compatible & HEIC_BRANDS):
            raise _unsupported("AVIF image")
        if major in HEIF_BRANDS:
            check_image_header(src)
            if all_brands & HEIC_BRANDS:
                return Sniffed("image", "image/heic", "heic")
            return Sniffed("image", "image/heif", "heif")
        check_iso_structure(src)
        return _sniff_av(src, _iso_family(major))

    guess = filetype.guess(head)
    mime = guess.mime if guess is not None else None
    if mime in _IMAGE_MAGIC:
        check_image_header(src)
        real_mime, ext = _IMAGE_MAGIC[mime]
        return Sniffed("image", real_mime, ext)
    if mime == "application/pdf":
        pdf_info(src)  # opens it: CorruptMedia if damaged, UnsupportedMedia if encrypted
        return Sniffed("document", "application/pdf", "pdf")
    if mime in ("video/webm", "video/x-matroska"):
        return _sniff_av(src, "webm" if mime == "video/webm" else "mkv")
    if mime in _AV_MAGIC:
        return _sniff_av(src, None)
    if mime is None:
        raise _unsupported("unrecognised content")
    raise _unsupported(mime)
