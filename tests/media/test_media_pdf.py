"""PDFs: page count and title, first-page thumbnail, damaged files."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from media.errors import CorruptMedia
from media.pdf import make_pdf_thumbnail, pdf_info

from .conftest import Samples


def test_pdf_info(samples: Samples) -> None:
    info = pdf_info(samples("three_pages.pdf"))
    assert info.page_count == 3
    assert info.title == "留芳口述史 · 访谈记录"
    assert (info.page_width, info.page_height) == (200.0, 300.0)


def test_first_page_thumbnail(samples: Samples, tmp_path: Path) -> None:
    dst = tmp_path / "缩略图.jpg"
    size = make_pdf_thumbnail(samples("three_pages.pdf"), dst, max_size=300)
    assert size == {"width": 200, "height": 300}
    with Image.open(dst) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (200, 300)
        r, g, b = thumb.convert("RGB").getpixel((100, 150))  # type: ignore[misc]
        assert r > 200 and g < 60 and b < 60  # the first page is the red one


@pytest.mark.parametrize("sample", ["broken.pdf", "zero.mp4", "notes.txt"])
def test_damaged_pdf_is_corrupt(samples: Samples, tmp_path: Path, sample: str) -> None:
    with pytest.raises(CorruptMedia) as caught:
        pdf_info(samples(sample))
    assert str(caught.value).startswith("文件已损坏或不完整 / ")
    with pytest.raises(CorruptMedia):
        make_pdf_thumbnail(samples(sample), tmp_path / "t.jpg")
    assert list(tmp_path.iterdir()) == []


def test_truncated_pdf_is_corrupt(samples: Samples, tmp_path: Path) -> None:
    data = samples("three_pages.pdf").read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(CorruptMedia):
        make_pdf_thumbnail(cut, tmp_path / "t.jpg")
