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
DEVICES = ("auto", "cpu", "cuda")
#: compute_type "auto": what each device runs best — int8 weights on CPU; float16 on a CUDA GPU (large-v3 in
#: float16 needs about 5 GB of GPU memory; int8_float16 halves that).
AUTO_COMPUTE_TYPE = {"cpu": "int8", "cuda": "float16"}

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

    device: cpu, cuda or auto (cuda where a GPU is visible, see resolve_device). compute_type applies to
    faster-whisper (int8, float16, float32, auto: see AUTO_COMPUTE_TYPE); openai-whisper runs float32 on CPU and
    float16 on CUDA. A model name (large-v3), a local directory or a package source works the same on either device.
    """
    name = ENGINE_ALIASES.get(engine)
    if name is None:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(sorted(ENGINE_ALIASES))}")
    device = resolve_device(device)
    compute_type = resolve_compute_type(device, compute_type)
    cache = Path(cache_dir) if cache_dir else DEFAULT_CACHE_DIR
    key = (name, model_source, device, compute_type if name == "faster-whisper" else None, str(cache), threads)
    with _lock:
        instance = _instances.get(key)
        if instance is None:
            instance = _load(name, resolve_model(model_source, cache), model_source, device, compute_type, cache, threads)
            _instances[key] = instance
        return instance


def cuda_device_count() -> int:
    """CUDA devices CTranslate2 can use (0 without a GPU or without a CUDA build)."""
    try:
        import ctranslate2
    except ImportError:
        return 0
    try:
        return int(ctranslate2.get_cuda_device_count())
    except RuntimeError:
        return 0


def resolve_device(device: str) -> str:
    """cpu or cuda for a configured device; ``auto`` is cuda where CTranslate2 sees a GPU."""
    device = (device or "cpu").strip().lower()
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "auto":
        return "cuda" if cuda_device_count() > 0 else "cpu"
    return device


def resolve_compute_type(device: str, compute_type: str) -> str:
    """The CTranslate2 compute type for ``device``; ``auto`` (or empty) picks AUTO_COMPUTE_TYPE's."""
    compute_type = (compute_type or "auto").strip().lower()
    return AUTO_COMPUTE_TYPE.get(device, "int8") if compute_type == "auto" else compute_type


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
