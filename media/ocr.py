"""Text of document images and PDFs: OCR engines (RapidOCR's PP-OCR models, Debian's Tesseract) and PDF text layers."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from opencc import OpenCC
from PIL import Image, ImageOps

from .errors import CorruptMedia, UnsupportedMedia
from .images import _open as _open_image
from .pdf import _PDFIUM_LOCK, _open

__all__ = ["ENGINES", "OcrEngine", "OcrLine", "OcrPage", "RapidOcrEngine", "TesseractEngine", "engine_named",
           "extract_text", "ocr_image", "pdf_pages", "page_text", "full_text", "tidy_text"]

Point = tuple[float, float]
Progress = Callable[[float], None]

# Pages are rendered for OCR at this resolution (PDF points are 1/72 inch): printed 10-point text is then ~28 px tall.
OCR_DPI = 200
# Larger photos are scaled down first: the detector works at a fixed size anyway, and a 48-megapixel phone photo
# would cost memory for nothing.
MAX_OCR_SIDE = 3000


@dataclass(frozen=True, slots=True)
class OcrLine:
    """One line of text: its characters, its quadrilateral in page pixels (clockwise from top left) and the
    engine's confidence in 0…1 (None where a person typed it or the PDF's text layer gave it)."""

    text: str
    box: tuple[Point, Point, Point, Point]
    confidence: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "box": [[round(x, 1), round(y, 1)] for x, y in self.box],
                "confidence": None if self.confidence is None else round(self.confidence, 4)}


@dataclass(frozen=True, slots=True)
class OcrPage:
    """A page's lines, in reading order, with where they came from: ``ocr`` (and which engine) or ``text_layer``."""

    number: int
    width: float
    height: float
    source: str
    engine: str | None
    lines: list[OcrLine] = field(default_factory=list)

    @property
    def text(self) -> str:
        return page_text(line.text for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "width": round(self.width, 1), "height": round(self.height, 1),
                "source": self.source, "engine": self.engine, "lines": [line.to_dict() for line in self.lines]}


def page_text(lines: Any) -> str:
    return "\n".join(text for text in lines if text)


def full_text(page_texts: Any) -> str:
    """The text of a whole material: its pages' texts, a blank line between pages."""
    return "\n\n".join(text for text in page_texts if text)


# --- Chinese clean-up -------------------------------------------------------------------------------------------

# Chinese characters and the punctuation printed with them (full-width forms, 。，、“”《》…).
_CJK = r"\u2010-\u206f\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])[ \t]+(?=[{_CJK}])")
_CHINESE_NUMERALS = "〇一二三四五六七八九十"
# Latin O / o / 0 read where 〇 (the zero of Chinese year numbers, 二〇二三年) stands between Chinese numerals.
_LATIN_ZERO = re.compile(rf"(?<=[{_CHINESE_NUMERALS}])[OoＯｏ0０](?=[{_CHINESE_NUMERALS}年OoＯｏ0０])")
_converter: Any = None
_converter_lock = threading.Lock()


def _to_simplified(text: str) -> str:
    global _converter
    if _converter is None:
        with _converter_lock:
            if _converter is None:
                _converter = OpenCC("t2s")
    return _converter.convert(text)


def tidy_text(text: str) -> str:
    """A recognised line as the archive keeps it: Simplified characters, no spaces that an engine put between
    Chinese characters, 〇 where a Latin O was read inside a Chinese year, no control characters."""
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cc" or ch == "\t").strip()
    text = _SPACE_BETWEEN_CJK.sub("", text)
    while True:
        fixed = _LATIN_ZERO.sub("〇", text)
        if fixed == text:
            break
        text = fixed
    return _to_simplified(text)


# --- engines ----------------------------------------------------------------------------------------------------

class OcrEngine(Protocol):
    name: str

    def recognize(self, image: Image.Image) -> list[OcrLine]:
        """The lines of text in ``image`` (RGB), in reading order; [] for a page without text."""


def _bounds(line: OcrLine) -> tuple[float, float, float, float]:
    xs, ys = [x for x, _ in line.box], [y for _, y in line.box]
    return min(xs), min(ys), max(xs), max(ys)


def _gaps(intervals: list[tuple[float, float]], min_gap: float) -> list[float]:
    """Where the union of ``intervals`` has holes at least ``min_gap`` wide (the middle of each hole)."""
    cuts, reach = [], None
    for start, end in sorted(intervals):
        if reach is not None and start - reach >= min_gap:
            cuts.append((reach + start) / 2)
        reach = end if reach is None else max(reach, end)
    return cuts


def _rows(lines: list[OcrLine]) -> list[OcrLine]:
    """Top to bottom, and left to right within a row (vertical centres within half a line of each other)."""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda item: (_bounds(item)[1] + _bounds(item)[3]) / 2):
        x0, y0, x1, y1 = _bounds(line)
        if rows:
            _, r0, _, r1 = _bounds(rows[-1][0])
            if abs((r0 + r1) / 2 - (y0 + y1) / 2) < max(r1 - r0, y1 - y0) / 2:
                rows[-1].append(line)
                continue
        rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda item: _bounds(item)[0])]


def _side_by_side(groups: list[list[OcrLine]]) -> bool:
    """Whether groups of lines stand side by side (columns), not one above the other: every group has lines and
    each overlaps the next in height."""
    if any(not group for group in groups):
        return False
    spans = [(min(_bounds(line)[1] for line in group), max(_bounds(line)[3] for line in group)) for group in groups]
    return all(min(a[1], b[1]) > max(a[0], b[0]) for a, b in zip(spans, spans[1:]))


def _split_at(lines: list[OcrLine], cuts: list[float], axis: int) -> list[list[OcrLine]]:
    edges = [float("-inf"), *cuts, float("inf")]
    centre = [lambda b: (b[0] + b[2]) / 2, lambda b: (b[1] + b[3]) / 2][axis]
    return [[line for line in lines if low <= centre(_bounds(line)) < high] for low, high in zip(edges, edges[1:])]


def _reading_order(lines: list[OcrLine], depth: int = 0) -> list[OcrLine]:
    """Reading order by recursive XY-cut. Columns (side by side, a gutter wider than 1.5 lines) are read one after
    the other, left to right; a headline or rule across the columns is read where it stands, between the column
    blocks above and below it; blocks separated by more than a line's height of blank one below the other; within
    a block, row by row. So a newspaper is not read across its columns."""
    if len(lines) < 2 or depth > 16:
        return _rows(lines)
    bounds = [_bounds(line) for line in lines]
    heights = sorted(b[3] - b[1] for b in bounds)
    line_height = max(heights[len(heights) // 2], 1.0)
    gutter = 1.5 * line_height

    columns = _gaps([(b[0], b[2]) for b in bounds], gutter)
    if columns:
        groups = _split_at(lines, columns, 0)
        if _side_by_side(groups):
            return [line for group in groups for line in _reading_order(group, depth + 1)]

    extent = max(b[2] for b in bounds) - min(b[0] for b in bounds)
    narrow = [line for line, b in zip(lines, bounds) if b[2] - b[0] < 0.5 * extent]
    for cut in _gaps([(_bounds(line)[0], _bounds(line)[2]) for line in narrow], gutter):
        across = sorted((line for line in lines if _bounds(line)[0] < cut < _bounds(line)[2]),
                        key=lambda line: _bounds(line)[1])
        rest = [line for line in lines if line not in across]
        if not across or not _side_by_side(_split_at(rest, [cut], 0)):
            continue
        separators = [(_bounds(line)[1] + _bounds(line)[3]) / 2 for line in across]
        ordered: list[OcrLine] = []
        for index, band in enumerate(_split_at(rest, separators, 1)):
            ordered.extend(_reading_order(band, depth + 1))
            if index < len(across):
                ordered.append(across[index])
        return ordered

    blocks = _gaps([(b[1], b[3]) for b in bounds], line_height)
    if blocks:
        return [line for group in _split_at(lines, blocks, 1) for line in _reading_order(group, depth + 1)]
    return _rows(lines)


class RapidOcrEngine:
    """PP-OCRv4 detection, direction and recognition models run by onnxruntime (shipped in the
    ``rapidocr-onnxruntime`` wheel, nothing downloaded). One model set per process, shared by threads."""

    name = "rapidocr"
    _instance: Any = None
    _lock = threading.Lock()

    def __init__(self, min_confidence: float = 0.5) -> None:
        self.min_confidence = min_confidence

    @classmethod
    def _model(cls) -> Any:
        if cls._instance is None:
            try:
                from rapidocr_onnxruntime import RapidOCR  # heavy (onnxruntime, OpenCV): only when OCR runs
            except ImportError as exc:
                raise UnsupportedMedia(f"OCR engine rapidocr is not installed: {exc}") from None
            cls._instance = RapidOCR()
        return cls._instance

    def recognize(self, image: Image.Image) -> list[OcrLine]:
        with self._lock:
            result, _elapsed = self._model()(image.convert("RGB"))
        lines = []
        for box, text, score in result or []:
            cleaned = tidy_text(str(text))
            if cleaned and float(score) >= self.min_confidence:
                corners = tuple((float(x), float(y)) for x, y in box)
                lines.append(OcrLine(cleaned, corners, float(score)))  # type: ignore[arg-type]
        return _reading_order(lines)


class TesseractEngine:
    """Debian's ``tesseract`` (5.x, LSTM) with the ``chi_sim`` traineddata, run as a subprocess; its words are
    put together into lines from the TSV output."""

    name = "tesseract"

    def __init__(self, languages: str = "chi_sim", min_confidence: float = 0.3, timeout: float = 300) -> None:
        self.languages, self.min_confidence, self.timeout = languages, min_confidence, timeout

    def recognize(self, image: Image.Image) -> list[OcrLine]:
        binary = shutil.which("tesseract")
        if binary is None:
            raise UnsupportedMedia("OCR engine tesseract is not installed (apt-get install tesseract-ocr "
                                   "tesseract-ocr-chi-sim)")
        with tempfile.TemporaryDirectory(prefix="liufang-ocr-") as tmp:
            png = Path(tmp) / "page.png"
            image.convert("RGB").save(png)
            done = subprocess.run([binary, str(png), "stdout", "-l", self.languages, "--psm", "3", "tsv"],
                                  capture_output=True, timeout=self.timeout,
                                  env={**os.environ, "OMP_THREAD_LIMIT": "1"})
        if done.returncode != 0:
            raise CorruptMedia(f"tesseract failed: {done.stderr.decode('utf-8', 'replace')[-300:]}")
        return _reading_order(self._lines(done.stdout.decode("utf-8", "replace")))

    def _lines(self, tsv: str) -> list[OcrLine]:
        groups: dict[tuple[str, str, str, str], list[tuple[str, float, int, int, int, int]]] = {}
        for row in tsv.splitlines()[1:]:
            cells = row.split("\t")
            if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
                continue
            left, top, width, height = (int(value) for value in cells[6:10])
            groups.setdefault((cells[1], cells[2], cells[3], cells[4]), []).append(
                (cells[11].strip(), float(cells[10]), left, top, width, height))
        lines = []
        for words in groups.values():
            confidence = sum(word[1] for word in words) / len(words) / 100
            text = tidy_text(" ".join(word[0] for word in words))
            if not text or confidence < self.min_confidence:
                continue
            x0, y0 = min(w[2] for w in words), min(w[3] for w in words)
            x1, y1 = max(w[2] + w[4] for w in words), max(w[3] + w[5] for w in words)
            lines.append(OcrLine(text, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)), confidence))
        return lines


ENGINES: dict[str, Callable[[], OcrEngine]] = {"rapidocr": RapidOcrEngine, "tesseract": TesseractEngine}


def engine_named(name: str) -> OcrEngine:
    factory = ENGINES.get(name)
    if factory is None:
        raise UnsupportedMedia(f"unknown OCR engine {name!r} (known: {', '.join(ENGINES)})")
    return factory()


# --- images and PDFs --------------------------------------------------------------------------------------------

def _prepared(image: Image.Image) -> Image.Image:
    image = ImageOps.exif_transpose(image)  # phones store portrait photos sideways with an orientation tag
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    image = image.convert("RGB")
    if max(image.size) > MAX_OCR_SIDE:
        image.thumbnail((MAX_OCR_SIDE, MAX_OCR_SIDE), Image.Resampling.LANCZOS)
    return image


def ocr_image(path: str | os.PathLike[str], engine: OcrEngine) -> list[OcrPage]:
    """The one page of a photo or scan (HEIC included, through pillow-heif), recognised by ``engine``."""
    with _open_image(path) as opened:  # the same size limits and errors as processing
        try:
            image = _prepared(opened)
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise CorruptMedia(f"cannot decode image: {exc}") from None
    return [OcrPage(1, image.width, image.height, "ocr", engine.name, engine.recognize(image))]


def _text_layer_lines(textpage: Any, page_height: float) -> list[OcrLine]:
    """The text layer's runs of text, each with its rectangle (PDF points, turned to top-left origin)."""
    lines = []
    for index in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(index)
        text = textpage.get_text_bounded(left, bottom, right, top)
        cleaned = " ".join(text.replace("\r", "\n").split())
        if cleaned:
            y0, y1 = page_height - top, page_height - bottom
            lines.append(OcrLine(cleaned, ((left, y0), (right, y0), (right, y1), (left, y1)), None))
    return lines


def pdf_pages(path: str | os.PathLike[str], engine: OcrEngine | None,
              progress: Progress | None = None) -> list[OcrPage]:
    """Every page of a PDF: its text layer as it is where the page has one; otherwise (a scan) the page rendered at
    OCR_DPI and recognised by ``engine`` (None: such pages stay without text). Box units: points for text-layer
    pages, rendered pixels for OCR pages (each page gives its own width and height)."""
    pages: list[OcrPage] = []
    with _PDFIUM_LOCK:
        doc = _open(path)
        try:
            count = len(doc)
        except Exception:
            doc.close()
            raise
    try:
        for index in range(count):
            with _PDFIUM_LOCK:
                try:
                    page = doc[index]
                    width, height = page.get_size()
                    textpage = page.get_textpage()
                    lines = _text_layer_lines(textpage, height)
                    textpage.close()
                    picture = None
                    if not lines and engine is not None:
                        bitmap = page.render(scale=OCR_DPI / 72, fill_color=(255, 255, 255, 255))
                        picture = bitmap.to_pil().convert("RGB")
                        bitmap.close()
                    page.close()
                except Exception as exc:  # pdfium raises PdfiumError and, for broken objects, plain errors
                    raise CorruptMedia(f"cannot read PDF page {index + 1}: {exc}") from None
            if lines:
                pages.append(OcrPage(index + 1, width, height, "text_layer", None, lines))
            elif picture is not None:
                assert engine is not None
                picture = _prepared(picture)
                pages.append(OcrPage(index + 1, picture.width, picture.height, "ocr", engine.name,
                                     engine.recognize(picture)))
            else:
                pages.append(OcrPage(index + 1, width, height, "text_layer", None, []))
            if progress is not None:
                progress(100.0 * (index + 1) / count)
    finally:
        with _PDFIUM_LOCK:
            doc.close()
    return pages


def extract_text(path: str | os.PathLike[str], kind: str, engine: OcrEngine,
                 progress: Progress | None = None) -> list[OcrPage]:
    """The pages of text of a material's original: ``kind`` ``image`` (OCR) or ``document`` (a PDF)."""
    if kind == "image":
        pages = ocr_image(path, engine)
        if progress is not None:
            progress(100.0)
        return pages
    if kind == "document":
        return pdf_pages(path, engine, progress)
    raise UnsupportedMedia(f"no text to read in a {kind} material")
