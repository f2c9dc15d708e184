"""Photos: EXIF facts, upright thumbnails (JPEG, HEIC...), decompression bombs, damaged files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from PIL import Image

from media.errors import CorruptMedia, UnsupportedMedia
from media.images import image_info, make_thumbnail

from .conftest import Samples


def colour(pixel: Any) -> str:
    r, g, b = pixel[:3]
    if r > 150 and b < 100:
        return "red"
    if b > 150 and r < 100:
        return "blue"
    return f"rgb{pixel[:3]}"


def test_jpeg_exif_facts(samples: Samples) -> None:
    info = image_info(samples("photo_gps.jpg"))
    assert info.format == "JPEG"
    assert info.orientation == 6
    assert (info.width, info.height) == (32, 64)  # stored 64×32, shown turned upright
    assert info.captured_at == "2024-05-01T09:30:00+08:00"
    assert info.gps_lat == pytest.approx(31 + 13 / 60 + 48.6 / 3600, abs=1e-6)
    assert info.gps_lon == pytest.approx(121 + 28 / 60 + 12 / 3600, abs=1e-6)
    assert info.to_dict()["gps_lat"] == info.gps_lat


def test_heic_facts(samples: Samples) -> None:
    info = image_info(samples("photo.heic"))
    assert (info.format, info.orientation) == ("HEIF", 6)
    assert (info.width, info.height) == (32, 64)
    assert info.gps_lat is None and info.captured_at is None


@pytest.mark.parametrize("sample", ["photo_gps.jpg", "photo.heic"])
def test_thumbnail_is_upright(samples: Samples, tmp_path: Path, sample: str) -> None:
    dst = tmp_path / "thumb.jpg"
    size = make_thumbnail(samples(sample), dst, max_size=512)
    with Image.open(dst) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == (size["width"], size["height"]) == (32, 64)
        # Stored red-left/blue-right, orientation 6 = turn 90° clockwise: red ends on top.
        assert colour(thumb.getpixel((16, 4))) == "red"
        assert colour(thumb.getpixel((16, 60))) == "blue"
        assert not thumb.getexif(), "metadata (GPS!) must not leak into thumbnails"


def test_thumbnail_shrinks_to_max_size(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    Image.new("RGBA", (2000, 1000), (0, 128, 0, 128)).save(big)
    size = make_thumbnail(big, tmp_path / "t.jpg", max_size=256)
    assert size == {"width": 256, "height": 128}
    webp = make_thumbnail(big, tmp_path / "t.webp", max_size=100)
    assert webp == {"width": 100, "height": 50}
    with Image.open(tmp_path / "t.webp") as thumb:
        assert thumb.format == "WEBP"


def test_decompression_bomb_is_refused_without_eating_memory(samples: Samples, tmp_path: Path) -> None:
    process = psutil.Process()
    before = process.memory_info().rss
    started = time.monotonic()
    with pytest.raises(UnsupportedMedia) as caught:
        make_thumbnail(samples("bomb.png"), tmp_path / "t.jpg")
    with pytest.raises(UnsupportedMedia):
        image_info(samples("bomb.png"))
    assert time.monotonic() - started < 2
    assert process.memory_info().rss - before < 50 * 1024 * 1024
    assert "图片尺寸过大 / image too large" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_size_limit_is_configurable(samples: Samples, tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMedia, match="64×32 pixels"):
        make_thumbnail(samples("photo.png"), tmp_path / "t.jpg", max_pixels=1000)


def test_truncated_jpeg_is_corrupt(samples: Samples, tmp_path: Path) -> None:
    whole = samples("photo_gps.jpg").read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CorruptMedia) as caught:
        make_thumbnail(cut, tmp_path / "t.jpg")
    assert str(caught.value).startswith("文件已损坏或不完整 / ")
    assert not (tmp_path / "t.jpg").exists()


@pytest.mark.parametrize("sample", ["zero.mp4", "notes.txt"])
def test_non_images_are_corrupt(samples: Samples, tmp_path: Path, sample: str) -> None:
    with pytest.raises(CorruptMedia):
        image_info(samples(sample))


def test_chinese_paths(samples: Samples, tmp_path: Path) -> None:
    folder = tmp_path / "老照片"
    folder.mkdir()
    source = folder / "外婆家 1960年.jpg"
    source.write_bytes(samples("photo_gps.jpg").read_bytes())
    make_thumbnail(source, folder / "缩略图.jpg")
    assert (folder / "缩略图.jpg").is_file()
