"""PDF facts (page count, title) and first-page thumbnails, through pypdfium2."""

from __future__ import annotations

import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium

from .errors import CorruptMedia, UnsupportedMedia
from .fileutil import atomic_output

__all__ = ["PdfInfo", "pdf_info", "make_pdf_thumbnail"]

# PDFium is not thread-safe: every call into it goes through this lock.
_PDFIUM_LOCK = threading.RLock()


@dataclass(frozen=True, slots=True)
class PdfInfo:
    """Facts about a PDF: ``page_count``, ``title``/``author`` from its metadata (None if
    empty) and the first page's size in points (1/72 inch)."""

    page_count: int
    title: str | None
    author: str | None
    page_width: float
    page_height: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _open(path: str | os.PathLike[str]) -> pdfium.PdfDocument:
    src = Path(path)
    if src.stat().st_size == 0:
        raise CorruptMedia("empty file (0 bytes)")
    try:
        return pdfium.PdfDocument(src)
    except pdfium.PdfiumError as exc:
        text = str(exc)
        if "password" in text.lower():
            raise UnsupportedMedia("加密的 PDF / password-protected PDF") from None
        raise CorruptMedia(f"damaged PDF: {text}") from None


def _meta(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", "").strip()
    return text or None


def pdf_info(path: str | os.PathLike[str]) -> PdfInfo:
    """Return page count, title, author and first-page size. CorruptMedia if unreadable."""
    with _PDFIUM_LOCK:
        doc = _open(path)
        try:
            count = len(doc)
            if count == 0:
                raise CorruptMedia("PDF has no pages")
            try:
                meta = doc.get_metadata_dict(skip_empty=True)
            except pdfium.PdfiumError:
                meta = {}
            try:
                page = doc[0]
            except pdfium.PdfiumError as exc:
                raise CorruptMedia(f"damaged PDF page: {exc}") from None
            try:
                width, height = page.get_size()
            finally:
                page.close()
            return PdfInfo(count, _meta(meta.get("Title")), _meta(meta.get("Author")),
                           round(width, 2), round(height, 2))
        finally:
            doc.close()


def make_pdf_thumbnail(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    max_size: int = 512,
    *,
    page_index: int = 0,
    quality: int = 85,
) -> dict[str, int]:
    """Write ``dst``: a JPEG (PNG if ``dst`` ends in .png) of one page (the first by
    default) fitting in ``max_size``×``max_size``, on white. Returns the size written."""
    target = Path(dst)
    fmt = "PNG" if target.suffix.lower() == ".png" else "JPEG"
    with _PDFIUM_LOCK:
        doc = _open(src)
        try:
            if not 0 <= page_index < len(doc):
                raise CorruptMedia(f"PDF has no page {page_index + 1}")
            try:
                page = doc[page_index]
                width, height = page.get_size()
                if width <= 0 or height <= 0:
                    raise CorruptMedia("PDF page has no size")
                scale = max_size / max(width, height)
                bitmap = page.render(scale=scale, fill_color=(255, 255, 255, 255))
                picture = bitmap.to_pil().convert("RGB")
                bitmap.close()
                page.close()
            except pdfium.PdfiumError as exc:
                raise CorruptMedia(f"cannot render PDF page: {exc}") from None
        finally:
            doc.close()
    with atomic_output(target) as tmp:
        options: dict[str, Any] = {"quality": quality, "optimize": True} if fmt == "JPEG" else {}
        picture.save(tmp, format=fmt, **options)
    return {"width": picture.width, "height": picture.height}
