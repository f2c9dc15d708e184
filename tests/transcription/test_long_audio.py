"""Long recordings: audio is decoded in bounded windows (memory does not grow with length), progress advances
steadily through a long input; batched decoding transcribes as the sequential decoder does."""

from __future__ import annotations

import tracemalloc
import wave
from pathlib import Path

import numpy as np
import pytest

from transcription.audio import SAMPLE_RATE, iter_windows, load_audio
from transcription.base import TranscribeOptions
from transcription.cer import cer

#: One Whisper window of speech (30 s) plus the pauses the VAD took out of it: progress that advances at least this
#: often (in audio seconds) reports every 2% or more often on any recording longer than about half an hour.
MAX_PROGRESS_STEP_S = 40.0


def _write_long_wav(path: Path, seconds: int, seed: int = 0) -> Path:
    """Quiet noise with a louder burst every 7 s, written second by second (the file never sits in memory)."""
    rng = np.random.default_rng(seed)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        for second in range(seconds):
            block = rng.normal(0, 0.01, SAMPLE_RATE)
            if second % 7 < 5:
                block += 0.3 * np.sin(np.arange(SAMPLE_RATE) * (2 * np.pi * 220 / SAMPLE_RATE))
            w.writeframes((np.clip(block, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def _peak_while_iterating(path: Path, window_s: float) -> tuple[int, float]:
    tracemalloc.start()
    try:
        total = 0.0
        for _, samples in iter_windows(path, window_s):
            total += samples.size / SAMPLE_RATE
        return tracemalloc.get_traced_memory()[1], total
    finally:
        tracemalloc.stop()


def test_window_memory_does_not_grow_with_length(tmp_path: Path) -> None:
    """Four times the audio, the same peak: only one window (plus one decode block) is ever held."""
    short = _write_long_wav(tmp_path / "short.wav", 3 * 60)
    long = _write_long_wav(tmp_path / "long.wav", 12 * 60)
    short_peak, short_total = _peak_while_iterating(short, 60.0)
    long_peak, long_total = _peak_while_iterating(long, 60.0)
    assert short_total == pytest.approx(180.0, abs=0.01) and long_total == pytest.approx(720.0, abs=0.01)
    one_window = 60 * SAMPLE_RATE * 4  # float32 bytes; a window is copied once while it is cut (~5 in all)
    assert long_peak < 6 * one_window, f"peak {long_peak / 1e6:.1f} MB for 1 min windows"
    assert long_peak < 1.25 * short_peak, (short_peak, long_peak)


def _joined_speech(audio_dir: Path, out: Path, pause_s: float = 0.8) -> Path:
    """Every Mandarin reference clip once, with pauses between: about 80 s of real speech."""
    names = sorted(p.name for p in audio_dir.glob("*.wav"))
    pause = np.zeros(int(pause_s * SAMPLE_RATE), dtype=np.float32)
    samples = np.concatenate([part for name in names for part in (load_audio(audio_dir / name), pause)])
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return out


@pytest.fixture(scope="module")
def joined_speech(audio_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _joined_speech(audio_dir, tmp_path_factory.mktemp("long") / "joined.wav")


def _progress_steps(reports: list[tuple[float, float]], duration: float) -> list[float]:
    positions = [0.0, *(position for position, _ in reports)]
    return [b - a for a, b in zip(positions, positions[1:])] + [duration - positions[-1]]


@pytest.mark.slow
def test_progress_advances_through_a_long_input(faster_int8, joined_speech: Path) -> None:
    """Progress is reported as decoding goes (Whisper decodes 30 s of speech at a time), not once at the end: it
    never stands still for more than one window of speech and the pauses around it, never goes back, and ends at
    the full duration."""
    reports: list[tuple[float, float]] = []
    result = faster_int8.transcribe(joined_speech, TranscribeOptions.for_language("zh"),
                                    lambda pos, dur: reports.append((pos, dur)))
    duration = result.duration
    assert duration > 70
    steps = _progress_steps(reports, duration)
    assert min(steps) > -0.001, "progress went back"
    assert max(steps) <= MAX_PROGRESS_STEP_S, steps
    assert reports[-1] == (pytest.approx(duration, abs=0.001), pytest.approx(duration, abs=0.001))
    assert all(d == pytest.approx(duration, abs=0.05) for _, d in reports)
    assert max(s.end for s in result.segments) > duration - 10, "the speech was transcribed to the end"


@pytest.mark.slow
@pytest.mark.parametrize("vad_filter", [True, False], ids=["vad", "no-vad"])
def test_batched_decoding_transcribes_mandarin(faster_int8, audio_dir: Path, references: dict[str, str],
                                               vad_filter: bool) -> None:
    clip = "BAC009S0764W0121.wav"
    options = TranscribeOptions.for_language("zh", batch_size=8, vad_filter=vad_filter)
    reports: list[tuple[float, float]] = []
    result = faster_int8.transcribe(audio_dir / clip, options, lambda pos, dur: reports.append((pos, dur)))
    assert result.language == "zh"
    assert result.duration > 4 and reports and reports[-1][0] == pytest.approx(result.duration, abs=0.001)
    assert cer(references[clip], result.text) <= 0.2, result.text
    assert all(0 <= s.start <= s.end <= 4.3 for s in result.segments)
