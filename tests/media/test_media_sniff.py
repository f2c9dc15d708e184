"""sniff(): the real type comes from the bytes, whatever the file is called."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import psutil
import pytest

from media.errors import CorruptMedia, UnsupportedMedia
from media.sniff import Sniffed, sniff

from .conftest import Samples


def renamed(samples: Samples, name: str, tmp_path: Path, new_name: str = "upload.bin") -> Path:
    """A copy of a sample under a meaningless (or lying) name."""
    target = tmp_path / new_name
    shutil.copyfile(samples(name), target)
    return target


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("tone.m4a", Sniffed("audio", "audio/mp4", "m4a")),
        ("tone.aac", Sniffed("audio", "audio/aac", "aac")),
        ("tone.mp3", Sniffed("audio", "audio/mpeg", "mp3")),
        ("tone.wav", Sniffed("audio", "audio/wav", "wav")),
        ("tone.flac", Sniffed("audio", "audio/flac", "flac")),
        ("tone.opus", Sniffed("audio", "audio/ogg", "opus")),
        ("tone.ogg", Sniffed("audio", "audio/ogg", "ogg")),
        ("silence.amr", Sniffed("audio", "audio/amr", "amr")),
        # video containers holding only audio are audio
        ("tone.3gp", Sniffed("audio", "audio/3gpp", "3gp")),
        ("tone.webm", Sniffed("audio", "audio/webm", "webm")),
        ("tone.mka", Sniffed("audio", "audio/x-matroska", "mka")),
        ("bars.mp4", Sniffed("video", "video/mp4", "mp4")),
        ("bars_hevc.mov", Sniffed("video", "video/quicktime", "mov")),
        ("bars.3gp", Sniffed("video", "video/3gpp", "3gp")),
        ("bars.webm", Sniffed("video", "video/webm", "webm")),
        ("bars.mkv", Sniffed("video", "video/x-matroska", "mkv")),
        ("portrait_phone.mp4", Sniffed("video", "video/mp4", "mp4")),
        ("photo_gps.jpg", Sniffed("image", "image/jpeg", "jpg")),
        ("photo.png", Sniffed("image", "image/png", "png")),
        ("photo.webp", Sniffed("image", "image/webp", "webp")),
        ("photo.heic", Sniffed("image", "image/heic", "heic")),
        ("three_pages.pdf", Sniffed("document", "application/pdf", "pdf")),
    ],
)
def test_accepted_types_are_recognised_from_content(
    samples: Samples, tmp_path: Path, sample: str, expected: Sniffed
) -> None:
    assert sniff(renamed(samples, sample, tmp_path)) == expected


def test_real_speech_recording(samples: Samples) -> None:
    assert sniff(samples.speech) == Sniffed("audio", "audio/wav", "wav")


def test_lying_extension_does_not_matter(samples: Samples, tmp_path: Path) -> None:
    assert sniff(renamed(samples, "photo_gps.jpg", tmp_path, "interview.mp4")).kind == "image"
    assert sniff(renamed(samples, "tone.m4a", tmp_path, "photo.jpg")).mime == "audio/mp4"


def test_chinese_file_and_directory_names(samples: Samples, tmp_path: Path) -> None:
    folder = tmp_path / "口述史 采访"
    folder.mkdir()
    target = folder / "张三：1952 年回忆（第一段）.m4a"
    shutil.copyfile(samples("bars.mp4"), target)
    assert sniff(target) == Sniffed("video", "video/mp4", "mp4")


@pytest.mark.parametrize("sample", ["elf_renamed.mp4", "archive.zip", "notes.txt", "playlist.mp4"])
def test_other_content_is_unsupported(samples: Samples, sample: str) -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        sniff(samples(sample))
    assert "不支持的文件类型 / unsupported file type" in str(caught.value)


def test_elf_message_names_the_real_type(samples: Samples) -> None:
    with pytest.raises(UnsupportedMedia, match="application/x-executable"):
        sniff(samples("elf_renamed.mp4"))


def test_empty_file_is_corrupt(samples: Samples) -> None:
    with pytest.raises(CorruptMedia) as caught:
        sniff(samples("zero.mp4"))
    assert str(caught.value) == "文件已损坏或不完整 / empty file (0 bytes)"


@pytest.mark.parametrize("sample", ["truncated.mp4", "truncated_faststart.mp4"])
def test_truncated_uploads_are_corrupt(samples: Samples, sample: str) -> None:
    with pytest.raises(CorruptMedia) as caught:
        sniff(samples(sample))
    message = str(caught.value)
    assert message.startswith("文件已损坏或不完整 / truncated MP4/MOV")


def test_damaged_pdf_is_corrupt(samples: Samples) -> None:
    with pytest.raises(CorruptMedia, match="damaged PDF"):
        sniff(samples("broken.pdf"))


def test_decompression_bomb_is_refused_quickly(samples: Samples) -> None:
    process = psutil.Process()
    before = process.memory_info().rss
    started = time.monotonic()
    with pytest.raises(UnsupportedMedia, match="image too large"):
        sniff(samples("bomb.png"))
    assert time.monotonic() - started < 2
    assert process.memory_info().rss - before < 50 * 1024 * 1024
