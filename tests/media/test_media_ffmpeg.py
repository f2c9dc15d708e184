"""ffprobe info and ffmpeg derivatives: ASR audio, proxies, posters, waveform peaks."""

from __future__ import annotations

import gc
import json
import shutil
import struct
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from PIL import Image

from media import ffmpeg as ff
from media.errors import CorruptMedia, ProcessingError, UnsupportedMedia
from media.sniff import sniff

from .conftest import Samples, ffmpeg


def top_level_boxes(path: Path) -> list[str]:
    """Names of the top-level ISO-BMFF boxes, in file order."""
    names = []
    data = path.read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
        names.append(kind.decode("latin-1"))
        if size < 8:
            break
        offset += size
    return names


def colour(pixel: Any) -> str:
    r, g, b = pixel[:3]
    if r > 150 and b < 100:
        return "red"
    if b > 150 and r < 100:
        return "blue"
    return f"rgb{pixel[:3]}"


def assert_no_temp_files(folder: Path) -> None:
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert leftovers == [], f"temporary files left behind: {leftovers}"


# -- probe -----------------------------------------------------------------------------------
def test_probe_colour_bars(samples: Samples) -> None:
    info = ff.probe(samples("bars.mp4"))
    assert info["format"].split(",")[:2] == ["mov", "mp4"]
    assert info["duration"] == pytest.approx(2.0, abs=0.1)
    assert (info["video_codec"], info["audio_codec"]) == ("h264", "aac")
    assert (info["width"], info["height"], info["rotation"]) == (320, 240, 0)
    assert (info["display_width"], info["display_height"]) == (320, 240)
    assert info["fps"] == pytest.approx(15.0)
    assert (info["sample_rate"], info["channels"]) == (44100, 1)
    assert info["bit_rate"] > 0 and info["has_video"] and info["has_audio"]
    json.dumps(info)


def test_probe_speech_clip(samples: Samples) -> None:
    info = ff.probe(samples.speech)
    assert info["has_video"] is False and info["video_codec"] is None
    assert (info["audio_codec"], info["sample_rate"], info["channels"]) == ("pcm_s16le", 16000, 1)
    assert info["duration"] == pytest.approx(4.2, abs=0.1)


def test_probe_portrait_phone_video(samples: Samples) -> None:
    info = ff.probe(samples("portrait_phone.mp4"))
    assert (info["width"], info["height"]) == (1280, 960)
    assert info["rotation"] in (90, 270)
    assert (info["display_width"], info["display_height"]) == (960, 1280)


def test_probe_hevc_mov(samples: Samples) -> None:
    info = ff.probe(samples("bars_hevc.mov"))
    assert info["video_codec"] == "hevc" and info["format"].startswith("mov")


@pytest.mark.parametrize(
    ("sample", "error", "text"),
    [
        ("zero.mp4", CorruptMedia, "empty file"),
        ("truncated.mp4", CorruptMedia, "文件已损坏或不完整 / "),
        ("elf_renamed.mp4", CorruptMedia, "moov atom not found"),
        ("playlist.mp4", UnsupportedMedia, "unsupported media container: hls"),
    ],
)
def test_probe_refuses_bad_files(samples: Samples, sample: str, error: type, text: str) -> None:
    with pytest.raises(error) as caught:
        ff.probe(samples(sample))
    assert text in str(caught.value)


# -- ASR audio -------------------------------------------------------------------------------
def test_asr_audio_from_real_speech(samples: Samples, tmp_path: Path) -> None:
    dst = tmp_path / "asr.flac"
    info = ff.make_asr_audio(samples.speech, dst)
    again = ff.probe(dst)
    assert info == again
    assert (again["audio_codec"], again["sample_rate"], again["channels"]) == ("flac", 16000, 1)
    assert again["duration"] == pytest.approx(4.2, abs=0.1)
    assert sniff(dst).mime == "audio/flac"
    assert_no_temp_files(tmp_path)


@pytest.mark.parametrize("sample", ["tone.wav", "bars.mp4", "tone.opus", "silence.amr", "tone.3gp"])
def test_asr_audio_is_16k_mono_whatever_the_source(samples: Samples, tmp_path: Path, sample: str) -> None:
    source = ff.probe(samples(sample))
    info = ff.make_asr_audio(samples(sample), tmp_path / "out.flac")
    assert (info["audio_codec"], info["sample_rate"], info["channels"]) == ("flac", 16000, 1)
    assert info["has_video"] is False
    assert info["duration"] == pytest.approx(source["duration"], abs=0.1)


def test_derivatives_accept_chinese_paths(samples: Samples, tmp_path: Path) -> None:
    folder = tmp_path / "口述史：张三"
    folder.mkdir()
    source = folder / "第一次采访 (1952).m4a"
    shutil.copyfile(samples("tone.m4a"), source)
    info = ff.make_asr_audio(source, folder / "识别用音频.flac")
    assert info["sample_rate"] == 16000


# -- proxies and posters ---------------------------------------------------------------------
def test_audio_proxy_is_aac_m4a_with_faststart(samples: Samples, tmp_path: Path) -> None:
    dst = tmp_path / "proxy.m4a"
    info = ff.make_audio_proxy(samples("tone.wav"), dst)
    assert (info["audio_codec"], info["has_video"], info["channels"]) == ("aac", False, 2)
    assert info["duration"] == pytest.approx(2.0, abs=0.1)
    boxes = top_level_boxes(dst)
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    assert sniff(dst) .mime == "audio/mp4"


def test_video_proxy_applies_rotation_and_caps_at_720p(samples: Samples, tmp_path: Path) -> None:
    source = samples("portrait_phone.mp4")
    dst = tmp_path / "proxy.mp4"
    info = ff.make_video_proxy(source, dst, max_height=720)
    # The phone's 1280×960 frames shown upright are 960×1280: portrait, short side cut to 720.
    assert (info["width"], info["height"], info["rotation"]) == (720, 960, 0)
    assert (info["video_codec"], info["pix_fmt"], info["audio_codec"]) == ("h264", "yuv420p", "aac")
    assert info["duration"] == pytest.approx(1.0, abs=0.15)
    boxes = top_level_boxes(dst)
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    assert sniff(dst).kind == "video"
    assert_no_temp_files(tmp_path)


def test_video_proxy_keeps_small_videos_small(samples: Samples, tmp_path: Path) -> None:
    info = ff.make_video_proxy(samples("bars_hevc.mov"), tmp_path / "p.mp4")
    assert (info["width"], info["height"], info["video_codec"]) == (320, 240, "h264")


def test_video_proxy_caps_frame_rate(tmp_path: Path) -> None:
    source = tmp_path / "sixty.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=60", "-t", "1",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(source))
    info = ff.make_video_proxy(source, tmp_path / "p.mp4")
    assert info["fps"] == pytest.approx(30.0)
    assert info["has_audio"] is False and info["duration"] == pytest.approx(1.0, abs=0.1)


def test_poster_is_upright_jpeg(samples: Samples, tmp_path: Path) -> None:
    source = samples("portrait_phone.mp4")
    rotation = ff.probe(source)["rotation"]
    dst = tmp_path / "poster.jpg"
    size = ff.make_poster(source, dst)
    with Image.open(dst) as poster:
        assert poster.format == "JPEG"
        assert poster.size == (size["width"], size["height"]) == (720, 960)
        top = colour(poster.getpixel((poster.width // 2, 10)))
        bottom = colour(poster.getpixel((poster.width // 2, poster.height - 10)))
    # Stored frames are red on the left, blue on the right. Turned 90° clockwise the left
    # edge goes to the top; turned 270° clockwise (= 90° counter-clockwise) the right edge does.
    expected = ("red", "blue") if rotation == 90 else ("blue", "red")
    assert (top, bottom) == expected


def test_poster_and_proxy_need_video(samples: Samples, tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMedia, match="no video stream"):
        ff.make_poster(samples("tone.m4a"), tmp_path / "p.jpg")
    with pytest.raises(UnsupportedMedia, match="no video stream"):
        ff.make_video_proxy(samples("tone.m4a"), tmp_path / "p.mp4")
    assert list(tmp_path.iterdir()) == []


# -- hostile input ---------------------------------------------------------------------------
DERIVATIVES = {
    "asr": lambda src, d: ff.make_asr_audio(src, d / "a.flac"),
    "audio_proxy": lambda src, d: ff.make_audio_proxy(src, d / "a.m4a"),
    "video_proxy": lambda src, d: ff.make_video_proxy(src, d / "v.mp4"),
    "poster": lambda src, d: ff.make_poster(src, d / "p.jpg"),
    "waveform": lambda src, d: ff.waveform_peaks(src),
}


@pytest.mark.parametrize("derivative", sorted(DERIVATIVES))
@pytest.mark.parametrize("sample", ["truncated.mp4", "truncated_faststart.mp4", "zero.mp4"])
def test_corrupt_input_raises_corrupt_media(
    samples: Samples, tmp_path: Path, derivative: str, sample: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(CorruptMedia) as caught:
        DERIVATIVES[derivative](samples(sample), out)
    assert str(caught.value).startswith("文件已损坏或不完整 / ")
    assert list(out.iterdir()) == [], "no partial output may be left"


def test_truncated_faststart_names_the_problem(samples: Samples, tmp_path: Path) -> None:
    with pytest.raises(CorruptMedia) as caught:
        ff.make_asr_audio(samples("truncated_faststart.mp4"), tmp_path / "a.flac")
    assert caught.value.reason.startswith("truncated MP4/MOV: the file ends inside its 'mdat' box")


# (A poster taken from the intact first part of such a video is legitimate: not checked.)
@pytest.mark.parametrize("derivative", sorted(set(DERIVATIVES) - {"poster"}))
def test_data_ending_early_is_caught_from_ffmpeg(samples: Samples, tmp_path: Path, derivative: str) -> None:
    # The box structure looks whole ("mdat runs to the end of the file"), so only ffmpeg's
    # "partial file" complaint, which it makes while still exiting 0, reveals the cut.
    with pytest.raises(CorruptMedia) as caught:
        DERIVATIVES[derivative](samples("cut_open_mdat.mp4"), tmp_path)
    assert caught.value.reason == "truncated file: media data ends early (partial file)"
    assert "partial file" in (caught.value.detail or "")


def test_playlist_posing_as_video_is_refused(samples: Samples, tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMedia, match="hls"):
        ff.make_asr_audio(samples("playlist.mp4"), tmp_path / "a.flac")


def test_timeouts_raise_processing_error(samples: Samples, tmp_path: Path) -> None:
    with pytest.raises(ProcessingError, match="timed out"):
        ff.make_video_proxy(samples("portrait_phone.mp4"), tmp_path / "p.mp4", timeout=0.05)
    with pytest.raises(ProcessingError, match="timed out"):
        ff.waveform_peaks(samples("long_noise.flac"), timeout=0.05)
    assert list(tmp_path.iterdir()) == []


# -- waveform --------------------------------------------------------------------------------
def test_waveform_peaks_follow_the_signal(samples: Samples) -> None:
    peaks = ff.waveform_peaks(samples("half_tone_half_silence.flac"), peaks_per_second=10)
    json.dumps(peaks)
    assert peaks["sample_rate"] == 8000 and peaks["samples_per_peak"] == 800
    assert peaks["duration"] == pytest.approx(2.0, abs=0.05)
    assert peaks["length"] == len(peaks["peaks"]) == 20
    loud, quiet = peaks["peaks"][1:9], peaks["peaks"][12:]
    for low, high in loud:
        assert low == pytest.approx(-0.5, abs=0.05) and high == pytest.approx(0.5, abs=0.05)
    for low, high in quiet:
        assert abs(low) < 0.01 and abs(high) < 0.01
    assert all(-1.0 <= low <= high <= 1.0 for low, high in peaks["peaks"])


def test_waveform_of_real_speech(samples: Samples) -> None:
    peaks = ff.waveform_peaks(samples.speech, peaks_per_second=20)
    assert peaks["length"] == pytest.approx(84, abs=1)
    assert max(high for _, high in peaks["peaks"]) > 0.05  # someone is speaking


def test_waveform_memory_does_not_grow_with_duration(samples: Samples) -> None:
    source = samples("long_noise.flac")  # 10 minutes: 9.6 MB of decoded 8 kHz PCM
    process = psutil.Process()
    gc.collect()
    baseline = process.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample_rss() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample_rss)
    sampler.start()
    try:
        peaks = ff.waveform_peaks(source, peaks_per_second=10)
    finally:
        done.set()
        sampler.join()
    assert peaks["length"] == 6000
    assert peaks["duration"] == pytest.approx(600, abs=0.1)
    # Bounded: a 64 KiB pipe chunk plus the peaks list (~1 MB), far below the 9.6 MB of
    # samples that buffering the decoded audio would take (twice, as bytes and array).
    growth = peak - baseline
    assert growth < 6 * 1024 * 1024, f"RSS grew by {growth / 1e6:.1f} MB"
