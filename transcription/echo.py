"""Decoding again: a segment that reads the initial prompt back instead of the speech (without the prompt), and a
stretch of speech the decoder skipped (on its own)."""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from transcription.audio import SAMPLE_RATE
from transcription.base import Segment, TranscribeOptions, Word
from transcription.chinese import compact, is_prompt_echo, prompt_clauses
from transcription.editdistance import levenshtein

#: A segment sharing this many consecutive characters with a clause of the prompt (spaces and punctuation
#: ignored) is decoded again; so is one that is nearly the prompt or one of its clauses (chinese.is_prompt_echo).
#: Whisper echoes a natural prompt loosely ("今天我们今天就随便聊一段时间" for "我们今天就随便聊聊"); decoding again
#: costs one short decode and keeps what was really said, so the test is wide on purpose.
ECHO_SHARED_MIN_CHARS = 5
#: Decoded again without the prompt, a text at least this similar (1 - edit distance / length) to the first one
#: was really said: the first text stays (it may spell the context's names right, which the second may not).
SAME_SPEECH_SIMILARITY = 0.5
#: Audio taken around an echoed segment (seconds), never past the neighbouring segments.
REDECODE_PAD_S = 0.5

#: decode(samples, options) -> segments with times relative to the samples' start.
Decode = Callable[[np.ndarray, TranscribeOptions], list[Segment]]


def echoes_prompt(text: str, prompt: str | None) -> bool:
    """Whether text is (nearly) the prompt or one of its clauses, or shares ECHO_SHARED_MIN_CHARS consecutive
    characters with one."""
    if not prompt or not text:
        return False
    if is_prompt_echo(text, prompt):
        return True
    text = compact(text)
    return any(_longest_common_run(text, clause) >= ECHO_SHARED_MIN_CHARS for clause in prompt_clauses(prompt))


def _longest_common_run(a: str, b: str) -> int:
    best = 0
    previous = [0] * (len(b) + 1)
    for char in a:
        current = [0] * (len(b) + 1)
        for j, other in enumerate(b, 1):
            if char == other:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def similarity(a: str, b: str) -> float:
    """1 - edit distance / the longer length, on compacted text (1.0 for two empty texts)."""
    a, b = compact(a), compact(b)
    return 1.0 - levenshtein(a, b) / max(len(a), len(b)) if a or b else 1.0


def redecode_prompt_echoes(
    segments: list[Segment], audio: np.ndarray, offset: float, options: TranscribeOptions, decode: Decode
) -> int:
    """Decode each segment of this window (``audio`` starts at ``offset`` seconds) that echoes the prompt again,
    without any prompt, in place. segment.meta["redecoded"] records it: {reason, first_text, prompt (None),
    outcome}. The outcome is ``speech`` when the audio gives another text, which the segment takes (with its
    words and scores): the first was the prompt read back; ``confirmed`` when it gives nearly the same text,
    which was really said (the first text stays); ``no_speech`` when it gives none: the text came from the
    prompt alone, and the clean-up blanks it. Returns how many segments were decoded again."""
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
        sep = "" if (options.language or "zh").startswith(("zh", "yue", "ja")) else " "
        again = sep.join(piece.text.strip() for piece in pieces)
        if not compact(again):
            outcome = "no_speech"
        elif similarity(again, segment.text) >= SAME_SPEECH_SIMILARITY:
            outcome = "confirmed"
        else:
            outcome = "speech"
        note = {"reason": "prompt_echo", "first_text": segment.text, "prompt": None, "outcome": outcome}
        if outcome == "speech":
            _take(segment, pieces, offset + start / SAMPLE_RATE, again)
        segment.meta["redecoded"] = note
    return count


def _shifted(words: list[Word], shift: float) -> list[Word]:
    return [Word(round(w.start + shift, 3), round(w.end + shift, 3), w.text, w.probability) for w in words]


def _take(segment: Segment, pieces: list[Segment], shift: float, text: str) -> None:
    segment.text = text
    segment.start = round(shift + pieces[0].start, 3)
    segment.end = round(max(segment.start, shift + pieces[-1].end), 3)
    segment.words = [word for piece in pieces for word in _shifted(piece.words, shift)]
    scored = [p for p in pieces if p.avg_logprob is not None]
    segment.avg_logprob = min(p.avg_logprob for p in scored) if scored else None  # type: ignore[type-var]
    no_speech = [p.no_speech_prob for p in pieces if p.no_speech_prob is not None]
    segment.no_speech_prob = max(no_speech) if no_speech else None
    ratios = [p.compression_ratio for p in pieces if p.compression_ratio is not None]
    segment.compression_ratio = max(ratios) if ratios else None


#: A stretch of a window this long (seconds) with no segment in it is decoded again on its own: Whisper sometimes
#: ends a 30 s window early and moves past speech it never wrote (seen on joined real speech with the prompt
#: carried into every window). Over a real pause the voice detector finds nothing and the decode costs little.
SKIPPED_GAP_S = 8.0
#: A decode of a gap may skip again, from a later point: the gaps left are tried again, this many times at most.
SKIPPED_PASSES = 3


def fill_skipped_speech(
    segments: list[Segment], audio: np.ndarray, offset: float, options: TranscribeOptions, decode: Decode
) -> list[Segment]:
    """The window's segments (``audio`` starts at ``offset`` seconds) with what a fresh decode finds in each
    stretch of at least SKIPPED_GAP_S seconds that no segment covers (before the first segment, between two, after
    the last), in time order. Each segment found so has meta["redecoded"] = {reason: "skipped_speech", gap: [start,
    end]}; indices are left to the caller."""
    for _ in range(SKIPPED_PASSES):
        found = _decode_gaps(segments, audio, offset, options, decode)
        if not found:
            break
        segments = sorted([*segments, *found], key=lambda segment: (segment.start, segment.end))
    return segments


def _decode_gaps(segments: list[Segment], audio: np.ndarray, offset: float, options: TranscribeOptions,
                 decode: Decode) -> list[Segment]:
    window_end = offset + audio.size / SAMPLE_RATE
    bounds = [offset, *[t for segment in segments for t in (segment.start, segment.end)], window_end]
    found: list[Segment] = []
    for lower, upper in zip(bounds[0::2], bounds[1::2]):
        if upper - lower < SKIPPED_GAP_S:
            continue
        start = max(0, int(round((lower - offset) * SAMPLE_RATE)))
        end = min(audio.size, int(round((upper - offset) * SAMPLE_RATE)))
        shift = offset + start / SAMPLE_RATE
        for piece in decode(audio[start:end], options):
            if not compact(piece.text):
                continue
            piece.start = round(min(upper, shift + piece.start), 3)
            piece.end = round(min(upper, max(piece.start, shift + piece.end)), 3)
            piece.words = _shifted(piece.words, shift)
            piece.meta["redecoded"] = {"reason": "skipped_speech", "gap": [round(lower, 3), round(upper, 3)]}
            found.append(piece)
    return found
