"""Session fixtures for the transcription tests: reference audio, generated negatives, models loaded once.

``model_cache`` comes from tests/conftest.py: one fresh cache per session, shared with the app, so package joins and
conversions are exercised for real once and the app's transcriber is the same loaded ``faster_int8`` object."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from transcription.models import DEFAULT_MODEL_SOURCE

SHARED_DIR = Path(os.environ.get("LIUFANG_SHARED_DIR", Path(__file__).resolve().parents[3] / "shared"))
AUDIO_DIR = SHARED_DIR / "audio"
ZH_CLIP = "BAC009S0764W0121.wav"
EN_CLIP = "jfk.flac"


@pytest.fixture(scope="session")
def audio_dir() -> Path:
    if not (AUDIO_DIR / ZH_CLIP).is_file():
        pytest.skip(f"reference audio not found in {AUDIO_DIR} (set LIUFANG_SHARED_DIR)")
    return AUDIO_DIR


@pytest.fixture(scope="session")
def references(audio_dir: Path) -> dict[str, str]:
    with open(audio_dir / "references.tsv", encoding="utf-8", newline="") as f:
        return {row["file"]: row["reference"] for row in csv.DictReader(f, delimiter="\t")}


def _write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> None:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def _lavfi(path: Path, source: str, fallback: np.ndarray) -> Path:
    """Generate with ffmpeg's lavfi sources where ffmpeg is installed, else write the numpy fallback."""
    if shutil.which("ffmpeg"):
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source, "-t", "10", str(path)], check=True
        )
    else:
        _write_wav(path, fallback)
    return path


@pytest.fixture(scope="session")
def silence_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("negatives") / "silence.wav"
    return _lavfi(out, "anullsrc=r=16000:cl=mono", np.zeros(160000))


@pytest.fixture(scope="session")
def noise_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("negatives") / "noise.wav"
    rng = np.random.default_rng(0)
    return _lavfi(out, "anoisesrc=r=16000:a=0.1:c=white:d=10", rng.uniform(-0.1, 0.1, 160000))


@pytest.fixture(scope="session")
def faster_int8(model_cache: Path):
    from transcription.engines import get_transcriber

    return get_transcriber("faster-whisper", DEFAULT_MODEL_SOURCE, compute_type="int8", cache_dir=model_cache)


@pytest.fixture(scope="session")
def faster_float32(model_cache: Path):
    from transcription.engines import get_transcriber

    return get_transcriber("faster-whisper", DEFAULT_MODEL_SOURCE, compute_type="float32", cache_dir=model_cache)


@pytest.fixture(scope="session")
def openai_engine(model_cache: Path):
    pytest.importorskip("torch")
    pytest.importorskip("whisper")
    from transcription.engines import get_transcriber

    return get_transcriber("openai-whisper", DEFAULT_MODEL_SOURCE, cache_dir=model_cache)
