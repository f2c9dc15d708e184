"""Speech-to-text for Liufang oral histories: Whisper engines, model sources, Chinese clean-up and exports."""

from transcription.base import (
    DEFAULT_PROMPT_ZH,
    Segment,
    TranscribeOptions,
    Transcriber,
    TranscriptionCancelled,
    TranscriptionError,
    TranscriptionResult,
    Word,
)

__all__ = [
    "DEFAULT_PROMPT_ZH",
    "Segment",
    "TranscribeOptions",
    "Transcriber",
    "TranscriptionCancelled",
    "TranscriptionError",
    "TranscriptionResult",
    "Word",
]
