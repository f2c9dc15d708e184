"""Bounded-memory audio decoding: 16 kHz mono float32 in windows cut at the quietest moment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from transcription.base import TranscriptionError

SAMPLE_RATE = 16_000
#: Long recordings are transcribed in windows of this length, so memory does not grow with the recording: a
#: whole 2 h interview decoded at once (what faster-whisper's decode_audio does) is ~460 MB of float32, and
#: faster-whisper's feature extraction needs ~44 MB more per minute of window at its peak (a 20 min window took
#: the process over 1 GiB). 5 min keeps it near 230 MB; each window boundary is cut in a pause (CUT_SEARCH_S).
LONG_AUDIO_WINDOW_S = 5 * 60
#: A window is cut at the quietest 100 ms within this many seconds before its nominal end.
CUT_SEARCH_S = 30.0
_FRAME = SAMPLE_RATE // 10


def _open(path: str | Path):  # -> av.container.InputContainer
    import av  # PyAV, a faster-whisper dependency

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise TranscriptionError(f"audio file not found: {path}")
    try:
        container = av.open(path, mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise TranscriptionError(f"cannot read audio from {Path(path).name}: {exc}") from exc
    if not container.streams.audio:
        container.close()
        raise TranscriptionError(f"{Path(path).name} has no audio stream")
    return container


def probe_duration(path: str | Path) -> float:
    """Duration in seconds from the container header (0.0 where the header does not say)."""
    with _open(path) as container:
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return container.duration / 1_000_000
        return 0.0


def iter_pcm(path: str | Path, block_samples: int = 30 * SAMPLE_RATE) -> Iterator[np.ndarray]:
    """Decode and resample to 16 kHz mono, yielding float32 blocks of about block_samples.

    Same conversion as faster_whisper.audio.decode_audio (s16 resampling, /32768) but streamed.
    """
    import av

    container = _open(path)
    resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    pending: list[np.ndarray] = []
    count = 0
    try:
        frames = container.decode(audio=0)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                frame = None
            except av.error.InvalidDataError:
                continue  # skip a damaged packet, as faster-whisper does
            except av.error.FFmpegError as exc:
                raise TranscriptionError(f"cannot decode audio from {Path(path).name}: {exc}") from exc
            if frame is not None:
                frame.pts = None
            for out in resampler.resample(frame):
                block = out.to_ndarray().reshape(-1).astype(np.float32) / 32768.0
                pending.append(block)
                count += block.size
            if count >= block_samples or (frame is None and count):
                yield np.concatenate(pending)
                pending, count = [], 0
            if frame is None:
                break
    finally:
        container.close()


def quietest_cut(audio: np.ndarray, start: int, end: int) -> int:
    """Sample index (middle of a 100 ms frame) of the lowest-energy frame within audio[start:end]."""
    start = max(0, start)
    n_frames = (end - start) // _FRAME
    if n_frames <= 1:
        return end
    frames = audio[start : start + n_frames * _FRAME].reshape(n_frames, _FRAME)
    energy = np.einsum("ij,ij->i", frames, frames)
    latest_quietest = n_frames - 1 - int(np.argmin(energy[::-1]))  # on ties, keep the window long
    return start + latest_quietest * _FRAME + _FRAME // 2


def iter_windows(
    path: str | Path, window_s: float = LONG_AUDIO_WINDOW_S, search_s: float = CUT_SEARCH_S
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (offset_seconds, samples) windows of at most window_s, each cut at a quiet moment.

    Audio shorter than one window comes back whole, so short files decode exactly as usual.
    Memory stays around one window plus one decode block.
    """
    window = int(window_s * SAMPLE_RATE)
    search = int(min(search_s, window_s / 2) * SAMPLE_RATE)
    pending: list[np.ndarray] = []
    count = 0
    offset = 0
    for block in iter_pcm(path):
        pending.append(block)
        count += block.size
        while count > window:
            buffer = np.concatenate(pending)
            cut = quietest_cut(buffer, window - search, window)
            yield offset / SAMPLE_RATE, buffer[:cut]
            pending, count = [buffer[cut:].copy()], buffer.size - cut
            offset += cut
    if count or offset == 0:
        yield offset / SAMPLE_RATE, np.concatenate(pending) if pending else np.zeros(0, dtype=np.float32)


def load_audio(path: str | Path) -> np.ndarray:
    """The whole file as 16 kHz mono float32 (for short clips and tests)."""
    blocks = list(iter_pcm(path))
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
