"""Engine-neutral data types (options, segments, results) and the Transcriber interface."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from transcription.prompts import DEFAULT_PROMPT_STYLE, PROMPT_STYLES, SpeechContext, build_prompt

#: Steers Whisper towards Simplified Chinese with full-width punctuation (the default prompt style).
DEFAULT_PROMPT_ZH: str = PROMPT_STYLES[DEFAULT_PROMPT_STYLE] or ""

#: Whisper's own temperature fallback schedule (same default in faster-whisper and openai-whisper). It samples
#: at random above 0, so the same audio gave other text on every run; Liufang decodes at 0 (beam search, the
#: same text every time) and leaves repetition loops to the clean-up (transcription.chinese) and review flags.
WHISPER_TEMPERATURE_FALLBACK: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
DEFAULT_TEMPERATURE: tuple[float, ...] = (0.0,)

#: progress(position_seconds, duration_seconds); it may raise TranscriptionCancelled to stop.
ProgressCallback = Callable[[float, float], None]


class TranscriptionError(Exception):
    """A transcription could not be done; str(error) is a readable reason (e.g. unreadable audio)."""


class TranscriptionCancelled(Exception):
    """Raised by a progress callback to cancel a running transcription; propagated unchanged."""


@dataclass
class TranscribeOptions:
    """Decoding options shared by all engines."""

    language: str | None = "zh"  # None: detect the language
    task: str = "transcribe"  # or "translate" (to English)
    beam_size: int = 5
    initial_prompt: str | None = DEFAULT_PROMPT_ZH
    #: Steer every 30 s window with the prompt, not only the first. With condition_on_previous_text off, Whisper
    #: decodes each later window with no text before it, and long interviews lose most of their punctuation
    #: (2.1 marks per 100 characters against 8.2 carried, on 10 minutes of joined real speech); but carried, base
    #: also wrote longer segments and more errors there (CER 0.284 against 0.239), so it stays off by default.
    carry_prompt: bool = False
    vad_filter: bool = True  # faster-whisper only (Silero VAD shipped in its wheel)
    condition_on_previous_text: bool = False  # False limits repetition loops
    word_timestamps: bool = False
    threads: int = 0  # 0: engine default
    device: str = "cpu"
    compute_type: str = "int8"
    temperature: float | Sequence[float] = DEFAULT_TEMPERATURE
    #: faster-whisper only: > 1 decodes up to this many 30 s stretches of speech at once (BatchedInferencePipeline:
    #: speech cut by the VAD, no temperature fallback); 0 or 1: the sequential decoder. See README, "Throughput".
    batch_size: int = 0

    @classmethod
    def for_language(
        cls,
        language: str | None,
        *,
        prompt_style: str = DEFAULT_PROMPT_STYLE,
        context: SpeechContext | None = None,
        **overrides: Any,
    ) -> "TranscribeOptions":
        """Options with the Chinese steering prompt (``prompt_style``, see transcription.prompts) only where the
        language is Chinese, then the archive's ``context`` as a sentence (names, places, topic), then an
        ``initial_prompt`` among ``overrides`` (names, places, terms), so the output stays Simplified and
        punctuated. The same arguments always give the same options (and, with them, the same text)."""
        extra = overrides.pop("initial_prompt", None)
        prompt = build_prompt(language, prompt_style, context, extra)
        return cls(language=language, initial_prompt=prompt, **overrides)


@dataclass
class Word:
    """One word (or Chinese character group) with its timing."""

    start: float
    end: float
    text: str
    probability: float | None = None


@dataclass
class Segment:
    """One timed transcript segment as an editor sees it."""

    index: int
    start: float
    end: float
    text: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None
    words: list[Word] = field(default_factory=list)
    speaker: str | None = None
    flagged: bool = False
    meta: dict[str, Any] = field(default_factory=dict)  # clean-up notes: "removed", "flags", ...

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class TranscriptionResult:
    """The whole transcript of one audio file."""

    language: str | None
    language_probability: float | None
    duration: float
    segments: list[Segment]
    engine: str
    model: str
    initial_prompt: str | None = None  # the prompt the engine decoded with

    @property
    def text(self) -> str:
        """Non-empty segment texts joined (no separator for Chinese, a space otherwise)."""
        sep = "" if (self.language or "").startswith(("zh", "yue", "ja")) else " "
        return sep.join(s.text.strip() for s in self.segments if s.text.strip())

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Transcriber(ABC):
    """A loaded speech-recognition model; one instance is reused for many files."""

    engine: str = ""
    model: str = ""

    @abstractmethod
    def transcribe(
        self,
        audio_path: str | Path,
        options: TranscribeOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> TranscriptionResult:
        """Transcribe one audio/video file; progress(position_s, duration_s) is called as decoding advances."""
