"""Convert a CTranslate2 Whisper model directory into an openai-whisper checkpoint (.pt)."""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

# Type ids of CTranslate2's model.bin (ctranslate2/specs/model_spec.py, _dtype_to_type_id).
_CT2_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
_SUPPORTED_BINARY_VERSIONS = (5, 6)


class ConversionError(Exception):
    """The directory is not a CTranslate2 Whisper model this converter understands."""


def read_ct2_model(model_bin: str | Path) -> tuple[str, dict[str, np.ndarray]]:
    """Read CTranslate2's model.bin: returns (spec name, {variable name: array}), aliases resolved.

    Layout (binary version 5/6): u32 version, str spec, u32 revision, u32 n, n × (str name, u8 rank,
    u32 dims[rank], u8 dtype, u32 nbytes, bytes), u32 n_aliases, n_aliases × (str alias, str target);
    str = u16 length (with NUL) + UTF-8 + NUL. Arrays are views on a read-only memory map.
    """
    buf = np.memmap(model_bin, dtype=np.uint8, mode="r")
    raw = memoryview(buf)
    offset = 0

    def unpack(fmt: str) -> int:
        nonlocal offset
        try:
            (value,) = struct.unpack_from("<" + fmt, raw, offset)
        except struct.error:
            raise ConversionError(f"{model_bin}: truncated at byte {offset}") from None
        offset += struct.calcsize("<" + fmt)
        return int(value)

    def string() -> str:
        nonlocal offset
        length = unpack("H")
        try:
            value = bytes(raw[offset : offset + length - 1]).decode("utf-8")
        except UnicodeDecodeError:
            raise ConversionError(f"{model_bin}: not a CTranslate2 model (bad name at byte {offset})") from None
        offset += length
        return value

    if len(buf) < 8:
        raise ConversionError(f"{model_bin}: too short to be a CTranslate2 model")
    version = unpack("I")
    if version not in _SUPPORTED_BINARY_VERSIONS:
        raise ConversionError(f"{model_bin}: unsupported CTranslate2 binary version {version}")
    spec = string()
    unpack("I")  # spec revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(unpack("I")):
        name = string()
        shape = [unpack("I") for _ in range(unpack("B"))]
        type_id = unpack("B")
        if type_id >= len(_CT2_DTYPES):
            raise ConversionError(f"{model_bin}: unknown type id {type_id} for {name}")
        dtype_name = _CT2_DTYPES[type_id]
        nbytes = unpack("I")
        if offset + nbytes > len(buf):
            raise ConversionError(f"{model_bin}: truncated in variable {name}")
        if dtype_name == "bfloat16":
            raise ConversionError(f"{name}: bfloat16 weights are not supported")
        variables[name] = buf[offset : offset + nbytes].view(np.dtype(dtype_name)).reshape(shape)
        offset += nbytes
    for _ in range(unpack("I")):
        alias, target = string(), string()
        variables[alias] = variables[target]
    if offset != len(buf):
        raise ConversionError(f"{model_bin}: {len(buf) - offset} trailing bytes; file truncated or not CTranslate2")
    return spec, variables


def _count_layers(variables: dict[str, np.ndarray], prefix: str) -> int:
    pattern = re.compile(rf"^{prefix}/layer_(\d+)/")
    return len({match.group(1) for name in variables if (match := pattern.match(name))})


def ct2_to_openai(variables: dict[str, np.ndarray]) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """Map CTranslate2 Whisper variables to openai-whisper (dims, state dict of numpy arrays).

    CTranslate2 fuses self-attention q/k/v (and cross-attention k/v) along the output axis and stores a
    zero key bias (openai's key projection has none): split them back. Weights keep their dtype.
    """
    sd: dict[str, np.ndarray] = {}

    def linear(dst: str, src: str, bias: bool = True) -> None:
        sd[f"{dst}.weight"] = variables[f"{src}/weight"]
        if bias:
            sd[f"{dst}.bias"] = variables[f"{src}/bias"]

    def norm(dst: str, src: str) -> None:
        sd[f"{dst}.weight"] = variables[f"{src}/gamma"]
        sd[f"{dst}.bias"] = variables[f"{src}/beta"]

    def split(dst: str, src: str, names: tuple[str, ...]) -> None:
        weights = np.split(variables[f"{src}/weight"], len(names))
        biases = np.split(variables[f"{src}/bias"], len(names))
        for name, weight, bias in zip(names, weights, biases):
            sd[f"{dst}.{name}.weight"] = weight
            if name != "key":
                sd[f"{dst}.{name}.bias"] = bias
            elif np.any(bias):
                raise ConversionError(f"{src}: non-zero key bias cannot be represented in openai-whisper")

    n_audio_layer = _count_layers(variables, "encoder")
    n_text_layer = _count_layers(variables, "decoder")
    sd["encoder.positional_embedding"] = variables["encoder/position_encodings/encodings"]
    for conv in ("conv1", "conv2"):
        linear(f"encoder.{conv}", f"encoder/{conv}")
    for i in range(n_audio_layer):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        split(f"{dst}.attn", f"{src}/self_attention/linear_0", ("query", "key", "value"))
        linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
    norm("encoder.ln_post", "encoder/layer_norm")

    sd["decoder.positional_embedding"] = variables["decoder/position_encodings/encodings"]
    sd["decoder.token_embedding.weight"] = variables["decoder/embeddings/weight"]
    for i in range(n_text_layer):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        split(f"{dst}.attn", f"{src}/self_attention/linear_0", ("query", "key", "value"))
        linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
        split(f"{dst}.cross_attn", f"{src}/attention/linear_1", ("key", "value"))
        linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
        norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
    norm("decoder.ln", "decoder/layer_norm")

    conv1 = variables["encoder/conv1/weight"]
    token_embedding = variables["decoder/embeddings/weight"]
    dims = {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(variables["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": int(variables["encoder/num_heads"]),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(token_embedding.shape[0]),
        "n_text_ctx": int(variables["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(token_embedding.shape[1]),
        "n_text_head": int(variables["decoder/num_heads"]),
        "n_text_layer": n_text_layer,
    }
    return dims, sd


def convert_ct2_to_openai(src_dir: str | Path, dst: str | Path, dtype: str | None = None) -> Path:
    """Write an openai-whisper checkpoint ({"dims", "model_state_dict"}, plus "alignment_heads" from
    config.json) that ``whisper.load_model(dst)`` loads. dtype: keep the stored one (None), or e.g. "float32".
    The file is written to a temporary name and renamed, so a partial file is never seen."""
    import torch  # heavy: only needed here

    src_dir, dst = Path(src_dir), Path(dst)
    spec, variables = read_ct2_model(src_dir / "model.bin")
    if spec != "WhisperSpec":
        raise ConversionError(f"{src_dir}: a {spec} model, not Whisper")
    dims, state = ct2_to_openai(variables)
    tensors = {
        name: torch.from_numpy(np.array(array, dtype=dtype or array.dtype)) for name, array in state.items()
    }
    checkpoint: dict[str, Any] = {"dims": dims, "model_state_dict": tensors}
    config_path = src_dir / "config.json"
    if config_path.is_file():
        heads = json.loads(config_path.read_text()).get("alignment_heads")
        if heads:
            checkpoint["alignment_heads"] = [tuple(map(int, h)) for h in heads]
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", dir=dst.parent)
    os.close(fd)
    try:
        torch.save(checkpoint, tmp)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dst


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("src", help="CTranslate2 Whisper model directory (with model.bin)")
    parser.add_argument("dst", help="openai-whisper checkpoint to write (.pt)")
    parser.add_argument("--dtype", choices=("float16", "float32"), default=None, help="default: as stored")
    args = parser.parse_args(argv)
    path = convert_ct2_to_openai(args.src, args.dst, args.dtype)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
