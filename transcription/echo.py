"""Prompt echoes: a segment that reads the initial prompt back instead of the speech is decoded again without it."""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from transcription.audio import SAMPLE_RATE
from transcription.base import Segment, TranscribeOptions, Word
from transcription.chinese import compact, is_prompt_echo, prompt_clauses

#: A segment containing a clause of the prompt at least this long (spaces and punctuation ignored) is decoded again;
#: so is one that is nearly the prompt or one of its clauses (chinese.is_prompt_echo). Decoding again costs one
#: short decode and keeps what was really said, so the test is wide on purpose.
ECHO_CLAUSE_MIN_CHARS = 4
#: Audio taken around an echoed segment (seconds), never past the neighbouring segments.
REDECODE_PAD_S = 0.5

#: decode(samples, options) -> segments with times relative to the samples' start.
Decode = Callable[[np.ndarray, TranscribeOptions], list[Segment]]


def echoes_prompt(text: str, prompt: str | None) -> bool:
    """Whether text is the prompt, one of its clauses, or contains a clause of ECHO_CLAUSE_MIN_CHARS or more."""
    if not prompt or not text:
        return False
    if is_prompt_echo(text, prompt):
        return True
    text = compact(text)
    return any(len(clause) >= ECHO_CLAUSE_MIN_CHARS and clause in text for clause in prompt_clauses(prompt))


def redecode_prompt_echoes(
    segments: list[Segment], audio: np.ndarray, offset: float, options: TranscribeOptions, decode: Decode
) -> int:
    """Decode each segment of this window (``audio`` starts at ``offset`` seconds) that echoes the prompt again,
    without any prompt, in place. A segment whose audio then gives text takes that text, its words and scores;
    one that gives none keeps its text for the clean-up to judge (an echo over silence is blanked there).
    segment.meta["redecoded"] records it: {reason, first_text, prompt (None), outcome: speech | no_speech}.
    Returns how many segments were decoded again."""
    prompt = options.initial_prompt
    if not prompt:
        return 0
    retry = dataclasses.replace(options, initial_prompt=None)
    count = 0
    for i, segment in enumerate(segments):
        if not echoes_prompt(segment.text, prompt):
            continue
        count += 1
        lower = max(segment.start - REDECODE_PAD_S, segments[i - 1].end if i else offset, offset)
        upper = segment.end + REDECODE_PAD_S
        if i + 1 < len(segments):
            upper = min(upper, segments[i + 1].start)
        start = max(0, int(round((lower - offset) * SAMPLE_RATE)))
        end = min(audio.size, max(start, int(round((upper - offset) * SAMPLE_RATE))))
        pieces = [piece for piece in decode(audio[start:end], retry) if piece.text.strip()] if end > start else []
        note = {"reason": "prompt_echo", "first_text": segment.text, "prompt": None,
                "outcome": "speech" if pieces else "no_speech"}
        if pieces:
            _take(segment, pieces, offset + start / SAMPLE_RATE, options.language)
        segment.meta["redecoded"] = note
    return count


def _take(segment: Segment, pieces: list[Segment], shift: float, language: str | None) -> None:
    sep = "" if (language or "zh").startswith(("zh", "yue", "ja")) else " "
    segment.text = sep.join(piece.text.strip() for piece in pieces)
    segment.start = round(shift + pieces[0].start, 3)
    segment.end = round(max(segment.start, shift + pieces[-1].end), 3)
    segment.words = [Word(round(w.start + shift, 3), round(w.end + shift, 3), w.text, w.probability)
                     for piece in pieces for w in piece.words]
    scored = [p for p in pieces if p.avg_logprob is not None]
    segment.avg_logprob = min(p.avg_logprob for p in scored) if scored else None  # type: ignore[type-var]
    no_speech = [p.no_speech_prob for p in pieces if p.no_speech_prob is not None]
    segment.no_speech_prob = max(no_speech) if no_speech else None
    ratios = [p.compression_ratio for p in pieces if p.compression_ratio is not None]
    segment.compression_ratio = max(ratios) if ratios else None

