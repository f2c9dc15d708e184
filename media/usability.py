"""Whether a stored file can still be used: it opens (ffprobe for audio and video, every pixel of an image,
a PDF page rendered, XML/JSON/WebVTT/DOCX parsed), it is not encrypted, and its format is fit for keeping."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

from lxml import etree

from . import ffmpeg, images, pdf
from .errors import MediaError

__all__ = ["ARCHIVAL_FORMATS", "cannot_open", "encryption", "is_archival"]

#: Formats fit for long-term keeping (DA/T 47 and GB/T 33190 name WAV/MP3, MP4 (H.264)/MPEG, JPEG/TIFF, PDF/OFD
#: as 长期保存格式; FLAC, PNG and JPEG 2000 are open and lossless): MIME type → label.
ARCHIVAL_FORMATS = {
    "audio/wav": "WAV", "audio/x-wav": "WAV", "audio/flac": "FLAC", "audio/mpeg": "MP3", "audio/mp4": "MP4 (AAC)",
    "video/mp4": "MP4", "video/mpeg": "MPEG", "image/jpeg": "JPEG", "image/tiff": "TIFF", "image/png": "PNG",
    "image/jp2": "JPEG 2000", "application/pdf": "PDF", "application/ofd": "OFD", "application/xml": "XML",
    "application/json": "JSON", "text/vtt": "WebVTT", "text/plain": "纯文本",
}
_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an encrypted OOXML document is an OLE compound file


def is_archival(mime: str) -> bool:
    return mime in ARCHIVAL_FORMATS


def cannot_open(path: str | os.PathLike[str], mime: str) -> str | None:
    """None when the file opens as its type says; otherwise why not."""
    src = Path(path)
    try:
        if mime.startswith(("audio/", "video/")):
            info = ffmpeg.probe(src)
            if not (info.get("has_audio") or info.get("has_video")):
                return "ffprobe 未找到音频或视频流"
        elif mime.startswith("image/"):
            images.decode_image(src)
        elif mime == "application/pdf":
            with tempfile.TemporaryDirectory(prefix="liufang-check-") as work:
                pdf.make_pdf_thumbnail(src, Path(work) / "page.png", 256)
        elif mime == "application/xml":
            etree.parse(str(src), etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False))
        elif mime == "application/json":
            json.loads(src.read_text(encoding="utf-8"))
        elif mime == "text/vtt":
            if not src.read_text(encoding="utf-8").startswith("WEBVTT"):
                return "缺少 WEBVTT 文件头"
        elif mime == _DOCX:
            with zipfile.ZipFile(src) as document:
                etree.fromstring(document.read("word/document.xml"),
                                 etree.XMLParser(no_network=True, resolve_entities=False))
        else:
            return f"没有检查 {mime} 的方法"
    except MediaError as exc:
        return str(exc)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, etree.XMLSyntaxError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def encryption(path: str | os.PathLike[str], mime: str) -> str | None:
    """None when the file is not encrypted; otherwise what says it is."""
    src = Path(path)
    with open(src, "rb") as fh:
        head = fh.read(8)
    if mime == "application/pdf":
        try:
            pdf.pdf_info(src)
        except MediaError as exc:
            return str(exc) if "加密" in str(exc) or "password" in str(exc).lower() else None
        return None
    if mime == _DOCX and head == _OLE_MAGIC:
        return "加密的 Office 文档（OLE 复合文件）"
    if mime == _DOCX:
        with zipfile.ZipFile(src) as document:
            if any(info.flag_bits & 0x1 for info in document.infolist()):
                return "ZIP 条目加密"
    return None
