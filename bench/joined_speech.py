"""Long inputs of real speech for speed benchmarks: every shared Mandarin clip once per round, rounds shuffled.

Rounds take the clips of ../shared/audio (references.tsv, language zh) each exactly once, in an order shuffled by
a seeded random generator, with a natural pause of 0.3–1.5 s (uniform) between clips; rounds are added until the
target length is reached. The result is a 16 kHz mono 16-bit WAV written round by round (memory stays at one
round) and its reference text (the clips' references in the same order), so CER can be measured on it too.
"""

from __future__ import annotations

import csv
import os
import random
import sys
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from transcription.audio import SAMPLE_RATE, load_audio  # noqa: E402

SHARED_AUDIO = Path(os.environ.get("LIUFANG_SHARED_DIR", ROOT.parent / "shared")) / "audio"
PAUSE_S = (0.3, 1.5)
SEED = 13


@dataclass
class JoinedSpeech:
    path: Path
    reference: str
    duration: float
    rounds: int
    clips: int  # distinct clips per round


def mandarin_clips(audio_dir: Path = SHARED_AUDIO) -> list[tuple[str, str]]:
    """(file name, reference) of every Mandarin clip in references.tsv."""
    with open(audio_dir / "references.tsv", encoding="utf-8", newline="") as f:
        return [(row["file"], row["reference"]) for row in csv.DictReader(f, delimiter="\t") if row["language"] == "zh"]


def build_joined_speech(target_s: float, out: Path, *, seed: int = SEED, audio_dir: Path = SHARED_AUDIO) -> JoinedSpeech:
    """Write at least target_s seconds of joined real speech to out (a WAV; the same seed gives the same file)."""
    clips = mandarin_clips(audio_dir)
    samples = {name: load_audio(audio_dir / name) for name, _ in clips}
    rng = random.Random(seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part.wav")
    references: list[str] = []
    written = rounds = 0
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        while written < target_s * SAMPLE_RATE:
            order = clips[:]
            rng.shuffle(order)
            for name, reference in order:
                pause = np.zeros(int(rng.uniform(*PAUSE_S) * SAMPLE_RATE), dtype=np.float32)
                block = np.concatenate([samples[name], pause])
                w.writeframes((np.clip(block, -1, 1) * 32767).astype("<i2").tobytes())
                written += block.size
                references.append(reference)
            rounds += 1
    os.replace(tmp, out)
    return JoinedSpeech(out, "".join(references), written / SAMPLE_RATE, rounds, len(clips))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("minutes", type=float)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    joined = build_joined_speech(args.minutes * 60, args.out)
    print(f"{joined.path}: {joined.duration:.1f} s, {joined.rounds} rounds of {joined.clips} clips")
