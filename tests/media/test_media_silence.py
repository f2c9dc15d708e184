"""``silence_ranges``: the audio of a proxy silenced over given ranges, the video stream copied, written atomically."""

from __future__ import annotations

import array
import subprocess
from pathlib import Path

import pytest

from media import ffmpeg as ff

from .conftest import Samples, ffmpeg


def _samples(path: Path) -> array.array:
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1",
                          "-ar", "8000", "-"], capture_output=True, check=True).stdout
    samples = array.array("h")
    samples.frombytes(raw)
    return samples


def _peak(samples: array.array, start: float, end: float) -> int:
    return max(abs(value) for value in samples[int(start * 8000):int(end * 8000)])


def test_audio_proxy_is_silent_inside_the_ranges_only(tmp_path: Path) -> None:
    src = tmp_path / "tone.m4a"
    ffmpeg("-f", "lavfi", "-i", "aevalsrc=0.5*sin(2*PI*440*t):s=44100", "-t", "4", "-c:a", "aac", str(src))
    info = ff.silence_ranges(src, tmp_path / "out" / "public.m4a", [(2.5, 3.0), (1.0, 1.5)])
    assert info["has_audio"] and not info["has_video"] and info["duration"] == pytest.approx(4.0, abs=0.1)
    samples = _samples(tmp_path / "out" / "public.m4a")
    assert _peak(samples, 1.02, 1.48) == 0 and _peak(samples, 2.52, 2.98) == 0
    for start, end in ((0.1, 0.95), (1.55, 2.45), (3.05, 3.9)):
        assert _peak(samples, start, end) > 8000, (start, end)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["public.m4a"]


def test_video_stream_is_copied(samples: Samples, tmp_path: Path) -> None:
    src = tmp_path / "proxy.mp4"
    ff.make_video_proxy(samples("bars_faststart.mp4"), src)
    info = ff.silence_ranges(src, tmp_path / "public.mp4", [(0.5, 1.5)])
    assert info["has_video"] and info["video_codec"] == "h264" and info["audio_codec"] == "aac"

    def video_packets(path: Path) -> bytes:
        return subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy",
                               "-f", "h264", "-"], capture_output=True, check=True).stdout

    assert video_packets(tmp_path / "public.mp4") == video_packets(src)
    assert _peak(_samples(tmp_path / "public.mp4"), 0.55, 1.45) < 50


@pytest.mark.parametrize("ranges", [[], [(1.0, 1.0)], [(-1.0, 0.5)], [(2.0, 1.0)], [(0.0, float("nan"))]])
def test_bad_ranges_are_refused_and_nothing_is_written(tmp_path: Path, ranges: list) -> None:
    with pytest.raises(ValueError):
        ff.silence_ranges(tmp_path / "missing.m4a", tmp_path / "out.m4a", ranges)
    assert not (tmp_path / "out.m4a").exists()
