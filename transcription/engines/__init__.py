"""Engine registry: get_transcriber() returns one cached, loaded Transcriber per process and configuration."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from transcription.base import ProgressCallback, TranscribeOptions, Transcriber, TranscriptionResult
from transcription.convert import convert_ct2_to_openai
from transcription.engines.faster import FasterWhisperTranscriber
from transcription.engines.openai import OpenAIWhisperTranscriber
from transcription.models import DEFAULT_CACHE_DIR, DEFAULT_MODEL_SOURCE, ModelSourceError, ResolvedModel, resolve_model

ENGINE_ALIASES = {
    "faster": "faster-whisper",
    "faster-whisper": "faster-whisper",
    "ctranslate2": "faster-whisper",
    "openai": "openai-whisper",
    "openai-whisper": "openai-whisper",
    "whisper": "openai-whisper",
}
DEFAULT_ENGINE = "faster-whisper"

_instances: dict[tuple[object, ...], Transcriber] = {}
_lock = threading.Lock()


def get_transcriber(
    engine: str = DEFAULT_ENGINE,
    model_source: str = DEFAULT_MODEL_SOURCE,
    *,
    device: str = "cpu",
    compute_type: str = "int8",
    cache_dir: str | Path | None = None,
    threads: int = 0,
) -> Transcriber:
    """The process-wide Transcriber for this configuration, loading the model on first use (thread-safe).

    compute_type applies to faster-whisper (int8, float32, ...); openai-whisper runs float32 on CPU.
    """
    name = ENGINE_ALIASES.get(engine)
    if name is None:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(sorted(ENGINE_ALIASES))}")
    cache = Path(cache_dir) if cache_dir else DEFAULT_CACHE_DIR
    key = (name, model_source, device, compute_type if name == "faster-whisper" else None, str(cache), threads)
    with _lock:
        instance = _instances.get(key)
        if instance is None:
            instance = _load(name, resolve_model(model_source, cache), model_source, device, compute_type, cache, threads)
            _instances[key] = instance
        return instance


def transcribe_file(
    audio_path: str | Path,
    options: TranscribeOptions | None = None,
    *,
    engine: str = DEFAULT_ENGINE,
    model_source: str = DEFAULT_MODEL_SOURCE,
    cache_dir: str | Path | None = None,
    progress: ProgressCallback | None = None,
) -> TranscriptionResult:
    """Transcribe with the cached transcriber for options.device / compute_type / threads (raw result;
    apply transcription.chinese.postprocess for the cleaned one)."""
    options = options or TranscribeOptions()
    transcriber = get_transcriber(
        engine,
        model_source,
        device=options.device,
        compute_type=options.compute_type,
        cache_dir=cache_dir,
        threads=options.threads,
    )
    return transcriber.transcribe(audio_path, options, progress)


def clear_transcribers() -> None:
    """Forget loaded models (tests; a worker reloading its configuration)."""
    with _lock:
        _instances.clear()


def _load(
    engine: str,
    model: ResolvedModel,
    label: str,
    device: str,
    compute_type: str,
    cache: Path,
    threads: int,
) -> Transcriber:
    if engine == "faster-whisper":
        if model.kind == "openai":
            raise ModelSourceError(f"{model.path_or_name}: faster-whisper needs a CTranslate2 model, not a .pt file")
        return FasterWhisperTranscriber(
            model.path_or_name,
            device=device,
            compute_type=compute_type,
            threads=threads,
            download_root=str(cache / "hub"),
            model_label=label,
        )
    target = model.path_or_name
    if model.kind == "ctranslate2":
        target = str(converted_checkpoint(model, cache))
    return OpenAIWhisperTranscriber(
        target, device=device, threads=threads, download_root=str(cache / "openai"), model_label=label
    )


def converted_checkpoint(model: ResolvedModel, cache: Path) -> Path:
    """The openai-whisper .pt for a CTranslate2 model, converted once into cache/openai/."""
    model_bin = Path(model.path_or_name) / "model.bin"
    if model.sha256:
        key = model.sha256[:16]
    else:
        stat = model_bin.stat()
        key = hashlib.sha256(f"{model_bin.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = cache / "openai" / f"ct2-{key}.pt"
    if not target.is_file():
        convert_ct2_to_openai(model.path_or_name, target)
    return target
