"""faster-whisper (CTranslate2) engine: the default on CPU, int8 weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transcription.audio import LONG_AUDIO_WINDOW_S, SAMPLE_RATE, iter_windows, probe_duration
from transcription.base import (
    ProgressCallback,
    Segment,
    TranscribeOptions,
    Transcriber,
    TranscriptionError,
    TranscriptionResult,
    Word,
)
from transcription.echo import fill_skipped_speech, redecode_prompt_echoes


class FasterWhisperTranscriber(Transcriber):
    """Whisper through faster-whisper; long files are decoded and transcribed window by window."""

    engine = "faster-whisper"

    def __init__(
        self,
        model_path_or_name: str,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        threads: int = 0,
        download_root: str | None = None,
        window_s: float = LONG_AUDIO_WINDOW_S,
        model_label: str | None = None,
    ) -> None:
        from faster_whisper import WhisperModel

        self.model = model_label or model_path_or_name
        self.compute_type = compute_type
        self.window_s = window_s
        self._model = WhisperModel(
            model_path_or_name,
            device=device,
            compute_type=compute_type,
            cpu_threads=threads,
            download_root=download_root,
        )

    def transcribe(
        self,
        audio_path: str | Path,
        options: TranscribeOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> TranscriptionResult:
        """Window by window (bounded memory), each window through the sequential decoder or, with
        ``options.batch_size`` > 1, through BatchedInferencePipeline; stretches the decoder skipped, then prompt
        echoes, are decoded again either way."""
        options = options or TranscribeOptions()
        if options.batch_size > 1:
            from faster_whisper import BatchedInferencePipeline

            pipeline = BatchedInferencePipeline(self._model)

            def decode_window(audio: Any, language: str | None) -> tuple[Any, Any]:
                return pipeline.transcribe(audio, **_batched_kwargs(options, language, audio.size))
        else:
            def decode_window(audio: Any, language: str | None) -> tuple[Any, Any]:
                return self._model.transcribe(audio, **_decode_kwargs(options, language))
        estimated = probe_duration(audio_path)
        segments: list[Segment] = []
        language = options.language
        detected: tuple[str | None, float | None] | None = None
        decoded = 0.0
        for offset, audio in iter_windows(audio_path, self.window_s):
            decoded = offset + audio.size / SAMPLE_RATE
            total = max(estimated, decoded)
            if audio.size == 0:
                break
            try:
                pieces, info = decode_window(audio, language)
                if detected is None:
                    detected = (info.language, info.language_probability)
                    language = language or info.language  # keep one language across windows
                first = len(segments)
                for piece in pieces:  # a generator: decoding happens while iterating
                    segments.append(_segment(len(segments), piece, offset))
                    if progress is not None:
                        progress(min(offset + piece.end, total), total)  # may raise TranscriptionCancelled
                if options.vad_filter:  # without the voice detector a decode over a long pause may invent text
                    segments[first:] = fill_skipped_speech(
                        segments[first:], audio, offset, options,
                        lambda samples, again: self._decode(samples, again, language))
                    for index, segment in enumerate(segments[first:], first):
                        segment.index = index
                redecode_prompt_echoes(segments[first:], audio, offset, options,
                                       lambda samples, retry: self._decode(samples, retry, language))
            except (RuntimeError, ValueError) as exc:
                raise TranscriptionError(f"faster-whisper failed: {exc}") from exc
            if progress is not None:
                progress(decoded, total)
        lang, prob = detected or (options.language, None)
        return TranscriptionResult(lang, prob, round(decoded, 3), segments, self.engine, self.model,
                                   initial_prompt=options.initial_prompt)

    def _decode(self, samples: Any, options: TranscribeOptions, language: str | None) -> list[Segment]:
        """Decode a short stretch of samples on its own (times relative to its start)."""
        pieces, _ = self._model.transcribe(samples, **_decode_kwargs(options, language))
        return [_segment(i, piece, 0.0) for i, piece in enumerate(pieces)]


def _batched_kwargs(options: TranscribeOptions, language: str | None, samples: int) -> dict[str, Any]:
    """The sequential decoder's options as BatchedInferencePipeline takes them: segment timestamps kept (editors
    need segments shorter than 30 s), one temperature (it has no fallback), and without the VAD fixed 30 s clips."""
    kwargs = _decode_kwargs(options, language)
    kwargs.pop("condition_on_previous_text")  # always off in batched decoding
    kwargs.update(initial_prompt=options.initial_prompt, hotwords=None)  # it prompts every clip already
    temperature = kwargs["temperature"]
    kwargs["temperature"] = temperature[0] if isinstance(temperature, list) else temperature
    kwargs.update(batch_size=options.batch_size, without_timestamps=False)
    if not options.vad_filter:
        step = 30 * SAMPLE_RATE
        kwargs["clip_timestamps"] = [
            {"start": start / SAMPLE_RATE, "end": min(start + step, samples) / SAMPLE_RATE}
            for start in range(0, samples, step)
        ]
    return kwargs


def _decode_kwargs(options: TranscribeOptions, language: str | None) -> dict[str, Any]:
    """The sequential decoder's options. A carried prompt goes in as ``hotwords``: faster-whisper puts those in
    every window's prompt at the very place the initial prompt takes in the first one (and an initial prompt only
    there), so each 30 s window starts from the same text."""
    temperature = options.temperature
    carried = options.carry_prompt and bool(options.initial_prompt)
    return {
        "language": language,
        "task": options.task,
        "beam_size": options.beam_size,
        "initial_prompt": None if carried else options.initial_prompt,
        "hotwords": options.initial_prompt if carried else None,
        "vad_filter": options.vad_filter,
        "condition_on_previous_text": options.condition_on_previous_text,
        "word_timestamps": options.word_timestamps,
        "temperature": temperature if isinstance(temperature, (int, float)) else list(temperature),
    }


def _segment(index: int, piece: Any, offset: float) -> Segment:
    words = [
        Word(round(w.start + offset, 3), round(w.end + offset, 3), w.word, w.probability)
        for w in (piece.words or [])
    ]
    return Segment(
        index=index,
        start=round(piece.start + offset, 3),
        end=round(piece.end + offset, 3),
        text=piece.text.strip(),
        avg_logprob=piece.avg_logprob,
        no_speech_prob=piece.no_speech_prob,
        compression_ratio=piece.compression_ratio,
        words=words,
    )
