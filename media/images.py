"""Photo metadata (size, EXIF capture time, GPS, orientation) and thumbnails, bomb-guarded."""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import CorruptMedia, UnsupportedMedia
from .fileutil import atomic_output

__all__ = [
    "MAX_PIXELS",
    "ImageInfo",
    "check_image_header",
    "image_info",
    "make_thumbnail",
]

#: Largest picture accepted (pixels): above the photos of phone cameras (108 MP; 200 MP
#: sensors save 50 MP by default) and just under Pillow's own hard limit (2 x
#: Image.MAX_IMAGE_PIXELS). Bigger "images" are refused before any pixel is decoded.
MAX_PIXELS = 170_000_000

# Formats Pillow may open: JPEG (multi-picture MPO files from some phones open as JPEG), PNG,
# WebP, HEIF/HEIC (through pillow-heif).
_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
_TAG_ORIENTATION = 0x0112
_TAG_DATETIME = 0x0132
_IFD_EXIF = 0x8769
_IFD_GPS = 0x8825
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_DATETIME_DIGITIZED = 0x9004
_TAG_OFFSET_TIME_ORIGINAL = 0x9011
_TAG_OFFSET_TIME_DIGITIZED = 0x9012

_heif_lock = threading.Lock()
_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    with _heif_lock:
        if not _heif_registered:
            pillow_heif.register_heif_opener()
            _heif_registered = True


@contextlib.contextmanager
def _open(path: str | os.PathLike[str], max_pixels: int = MAX_PIXELS) -> Iterator[Image.Image]:
    """Open an image lazily (header only), refusing oversized or unsupported ones."""
    _register_heif()
    src = Path(path)
    if src.stat().st_size == 0:
        raise CorruptMedia("empty file (0 bytes)")
    # (Pillow warns, DecompressionBombWarning, about pictures between its MAX_IMAGE_PIXELS
    # and MAX_PIXELS; silencing that with warnings.catch_warnings would not be thread-safe.)
    try:
        image = Image.open(src, formats=_FORMATS)
    except Image.DecompressionBombError as exc:
        raise UnsupportedMedia(f"图片尺寸过大 / image too large to process: {exc}") from None
    except UnidentifiedImageError:
        raise CorruptMedia("unrecognised or damaged image data") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptMedia(f"damaged image header: {exc}") from None
    with image:
        width, height = image.size
        if width <= 0 or height <= 0:
            raise CorruptMedia(f"invalid image size {width}×{height}")
        if width * height > max_pixels:
            raise UnsupportedMedia(
                f"图片尺寸过大 / image too large: {width}×{height} pixels "
                f"(limit {max_pixels // 1_000_000} megapixels)"
            )
        yield image


def check_image_header(path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> None:
    """Check that ``path`` opens as an accepted image of acceptable size (no decoding)."""
    with _open(path, max_pixels):
        pass


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """Photo facts. ``width``/``height`` are as displayed (EXIF orientation applied);
    ``orientation`` is the EXIF value 1–8 of the original; ``captured_at`` is ISO 8601 (with
    offset when the camera recorded one); ``gps_lat``/``gps_lon`` in decimal degrees."""

    format: str
    width: int
    height: int
    orientation: int
    captured_at: str | None
    gps_lat: float | None
    gps_lon: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _exif_datetime(value: Any, offset: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().rstrip("\x00")
    try:
        moment = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if isinstance(offset, str):
        off = offset.strip().rstrip("\x00")
        try:
            sign = -1 if off.startswith("-") else 1
            hours, minutes = off.lstrip("+-").split(":")
            moment = moment.replace(
                tzinfo=timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
            )
        except (ValueError, TypeError):
            pass
    return moment.isoformat()


def _gps_degrees(value: Any, ref: Any, limit: float) -> float | None:
    try:
        parts = [float(v) for v in value]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not parts or any(math.isnan(p) or math.isinf(p) for p in parts):
        return None
    parts = (parts + [0.0, 0.0])[:3]
    degrees = parts[0] + parts[1] / 60 + parts[2] / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("latin-1", "replace")
    if isinstance(ref, str) and ref.strip().upper()[:1] in ("S", "W"):
        degrees = -degrees
    if abs(degrees) > limit:
        return None
    return round(degrees, 7)


def image_info(path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> ImageInfo:
    """Read size, orientation, EXIF capture time and GPS position (no pixel decoding)."""
    with _open(path, max_pixels) as image:
        exif = image.getexif()
        fmt = "HEIF" if image.format == "HEIF" else str(image.format)
        # pillow-heif applies the HEIF rotation itself and resets the EXIF tag to 1,
        # keeping the original value in info["original_orientation"].
        original = image.info.get("original_orientation")
        orientation = int(original or exif.get(_TAG_ORIENTATION) or 1)
        if orientation not in range(1, 9):
            orientation = 1
        width, height = image.size
        if fmt != "HEIF" and orientation in (5, 6, 7, 8):
            width, height = height, width
        exif_ifd = exif.get_ifd(_IFD_EXIF)
        captured = (
            _exif_datetime(exif_ifd.get(_TAG_DATETIME_ORIGINAL),
                           exif_ifd.get(_TAG_OFFSET_TIME_ORIGINAL))
            or _exif_datetime(exif_ifd.get(_TAG_DATETIME_DIGITIZED),
                              exif_ifd.get(_TAG_OFFSET_TIME_DIGITIZED))
            or _exif_datetime(exif.get(_TAG_DATETIME), None)
        )
        gps = exif.get_ifd(_IFD_GPS)
        lat = _gps_degrees(gps.get(2), gps.get(1), 90.0) if gps else None
        lon = _gps_degrees(gps.get(4), gps.get(3), 180.0) if gps else None
        if lat is None or lon is None:
            lat = lon = None
        return ImageInfo(fmt, width, height, orientation, captured, lat, lon)


def make_thumbnail(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    max_size: int = 512,
    *,
    quality: int = 85,
    max_pixels: int = MAX_PIXELS,
) -> dict[str, int]:
    """Write ``dst``: the picture upright (EXIF orientation applied), fitting in
    ``max_size``×``max_size``, without metadata (no GPS leaks). JPEG unless ``dst`` ends in
    .png or .webp; transparency is flattened on white for JPEG. Returns the size written.
    Raises CorruptMedia for damaged data, UnsupportedMedia for oversized pictures."""
    target = Path(dst)
    fmt = {".png": "PNG", ".webp": "WEBP"}.get(target.suffix.lower(), "JPEG")
    with _open(src, max_pixels) as image:
        try:
            image.draft("RGB", (max_size, max_size))  # JPEG: decode at 1/2..1/8 scale
            image.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
            upright = ImageOps.exif_transpose(image)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise CorruptMedia(f"damaged image data: {exc}") from None
    if fmt == "JPEG":
        if upright.mode in ("RGBA", "LA", "PA") or (
            upright.mode == "P" and "transparency" in upright.info
        ):
            rgba = upright.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            upright = flat
        elif upright.mode != "RGB":
            upright = upright.convert("RGB")
    elif upright.mode not in ("RGB", "RGBA"):
        upright = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
    with atomic_output(target) as tmp:
        options: dict[str, Any] = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
        if fmt == "JPEG":
            options["optimize"] = True
        upright.save(tmp, format=fmt, **options)
    return {"width": upright.width, "height": upright.height}


def decode_image(path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """Decode every pixel of the image at ``path`` (CorruptMedia if it cannot be); its stored size."""
    with _open(path, max_pixels) as image:
        try:
            image.load()
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise CorruptMedia(f"damaged image data: {exc}") from None
        return image.size
