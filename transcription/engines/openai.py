"""openai-whisper (PyTorch) engine: the reference implementation, float32 on CPU."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from transcription.audio import SAMPLE_RATE, iter_windows, probe_duration
from transcription.base import (
    ProgressCallback,
    Segment,
    TranscribeOptions,
    Transcriber,
    TranscriptionError,
    TranscriptionResult,
    Word,
)
from transcription.echo import redecode_prompt_echoes

#: openai-whisper has no progress callback: progress is reported per window, so windows are shorter.
OPENAI_WINDOW_S = 5 * 60


class OpenAIWhisperTranscriber(Transcriber):
    """Whisper through openai-whisper; a checkpoint path (.pt) or a model name. No VAD (vad_filter ignored)."""

    engine = "openai-whisper"

    def __init__(
        self,
        checkpoint_or_name: str,
        *,
        device: str = "cpu",
        threads: int = 0,
        download_root: str | None = None,
        window_s: float = OPENAI_WINDOW_S,
        model_label: str | None = None,
    ) -> None:
        import torch
        import whisper

        if threads:
            torch.set_num_threads(threads)
        self.model = model_label or checkpoint_or_name
        self.window_s = window_s
        self.device = device
        self._lock = threading.Lock()  # one decode at a time per loaded model
        if os.path.isfile(checkpoint_or_name):
            self._model = _load_checkpoint(checkpoint_or_name, device)
        else:
            self._model = whisper.load_model(checkpoint_or_name, device=device, download_root=download_root)

    def transcribe(
        self,
        audio_path: str | Path,
        options: TranscribeOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> TranscriptionResult:
        import whisper

        options = options or TranscribeOptions()
        estimated = probe_duration(audio_path)
        segments: list[Segment] = []
        language = options.language
        detected: tuple[str | None, float | None] | None = None
        decoded = 0.0
        for offset, audio in iter_windows(audio_path, self.window_s):
            decoded = offset + audio.size / SAMPLE_RATE
            if audio.size == 0:
                break
            with self._lock:
                if detected is None and language is None:
                    detected = self._detect_language(audio)
                    language = detected[0]
                try:
                    out = whisper.transcribe(self._model, audio, **_decode_kwargs(options, language, self.device))
                except (RuntimeError, ValueError) as exc:
                    raise TranscriptionError(f"openai-whisper failed: {exc}") from exc
            if detected is None:
                detected = (out.get("language") or language, 1.0)
            first = len(segments)
            for piece in out["segments"]:
                if piece["text"].strip():
                    segments.append(_segment(len(segments), piece, offset))
            redecode_prompt_echoes(segments[first:], audio, offset, options,
                                   lambda samples, retry: self._decode(samples, retry, language))
            if progress is not None:
                progress(decoded, max(estimated, decoded))
        lang, prob = detected or (options.language, None)
        return TranscriptionResult(lang, prob, round(decoded, 3), segments, self.engine, self.model,
                                   initial_prompt=options.initial_prompt)

    def _decode(self, samples: Any, options: TranscribeOptions, language: str | None) -> list[Segment]:
        """Decode a short stretch of samples on its own (times relative to its start)."""
        import whisper

        with self._lock:
            out = whisper.transcribe(self._model, samples, **_decode_kwargs(options, language, self.device))
        return [_segment(i, piece, 0.0) for i, piece in enumerate(out["segments"]) if piece["text"].strip()]

    def _detect_language(self, audio: Any) -> tuple[str, float]:
        import whisper

        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio), self._model.dims.n_mels)
        _, probs = self._model.detect_language(mel.to(self._model.device))
        language = max(probs, key=probs.get)
        return language, float(probs[language])


def _load_checkpoint(path: str, device: str) -> Any:
    """Like whisper.load_model(path) but also applies the alignment heads stored by transcription.convert."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    checkpoint = torch.load(path, map_location=device, weights_only=True)
    model = Whisper(ModelDimensions(**checkpoint["dims"]))
    model.load_state_dict(checkpoint["model_state_dict"])
    heads = checkpoint.get("alignment_heads")
    if heads:
        mask = torch.zeros(model.dims.n_text_layer, model.dims.n_text_head, dtype=torch.bool)
        for layer, head in heads:
            mask[layer, head] = True
        model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
    return model.to(device).eval()


def _decode_kwargs(options: TranscribeOptions, language: str | None, device: str) -> dict[str, Any]:
    temperature = options.temperature
    return {
        "verbose": None,
        "language": language,
        "task": options.task,
        "beam_size": options.beam_size,
        "initial_prompt": options.initial_prompt,
        "carry_initial_prompt": options.carry_prompt and bool(options.initial_prompt),
        "condition_on_previous_text": options.condition_on_previous_text,
        "word_timestamps": options.word_timestamps,
        "temperature": temperature if isinstance(temperature, (int, float)) else tuple(temperature),
        "fp16": device != "cpu",
    }


def _segment(index: int, piece: dict[str, Any], offset: float) -> Segment:
    words = [
        Word(round(w["start"] + offset, 3), round(w["end"] + offset, 3), w["word"], w.get("probability"))
        for w in piece.get("words") or []
    ]
    return Segment(
        index=index,
        start=round(piece["start"] + offset, 3),
        end=round(piece["end"] + offset, 3),
        text=piece["text"].strip(),
        avg_logprob=piece.get("avg_logprob"),
        no_speech_prob=piece.get("no_speech_prob"),
        compression_ratio=piece.get("compression_ratio"),
        words=words,
    )
