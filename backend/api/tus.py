"""The tus 1.0.0 protocol on the wire: its constants, request headers parsed into values, and answers' headers."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

from werkzeug.http import http_date

from backend.errors import BadRequest, PreconditionFailed
from backend.services.text import parse_int64
from backend.services.uploads import UploadProgress

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = ("creation", "creation-with-upload", "termination", "checksum", "expiration")
CHECKSUM_ALGORITHMS = ("sha1", "sha256", "sha512", "md5")
CHUNK_TYPE = "application/offset+octet-stream"


def require_version(headers: Mapping[str, str]) -> None:
    """412 unless the request speaks the tus version this server does (``Tus-Resumable``)."""
    version = headers.get("Tus-Resumable")
    if version != TUS_VERSION:
        raise PreconditionFailed(
            f"不支持的 tus 协议版本：{version or '（未提供 Tus-Resumable）'}；支持 {TUS_VERSION}",
            code="tus_version_unsupported", details={"supported": [TUS_VERSION]})


def int_header(headers: Mapping[str, str], name: str, *, required: bool = True) -> int | None:
    """A header holding a non-negative integer (``Upload-Length``, ``Upload-Offset``); None if absent and optional."""
    raw = headers.get(name)
    if raw is None:
        if required:
            raise BadRequest(f"缺少 {name} 请求头", code="missing_header", details={"header": name})
        return None
    value = parse_int64(raw.strip(" \t"))
    if value is None:  # ASCII digits only: str.isdigit() would take "²" or "٣"
        raise BadRequest(f"{name} 须为非负整数（ASCII 数字）", code="invalid_header", details={"header": name})
    return value


def parse_metadata(header: str | None) -> dict[str, str]:
    """Decode tus ``Upload-Metadata`` (``key base64,key2 base64``) into text; malformed input is a 400."""
    result: dict[str, str] = {}
    if header is None or not header.strip():
        return result
    for pair in header.split(","):
        parts = pair.strip().split(" ")
        key = parts[0]
        if not key or len(parts) > 2 or not key.isascii() or not key.isprintable():
            raise BadRequest("Upload-Metadata 格式错误：应为“键 base64值”，以逗号分隔", code="invalid_metadata",
                             details={"pair": pair.strip()[:100]})
        if key in result:
            raise BadRequest(f"Upload-Metadata 中的键重复：{key}", code="invalid_metadata", details={"key": key})
        raw = b""
        if len(parts) == 2:
            try:
                raw = base64.b64decode(parts[1], validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest(f"Upload-Metadata 中 {key} 的值不是有效的 base64", code="invalid_metadata",
                                 details={"key": key}) from None
        try:
            result[key] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(f"Upload-Metadata 中 {key} 的值不是 UTF-8 文本", code="invalid_metadata",
                             details={"key": key}) from None
    return result


def encode_metadata(metadata: dict[str, Any]) -> str:
    """The stored metadata as an ``Upload-Metadata`` header value (scalars only)."""
    pairs = []
    for key, value in metadata.items():
        if value is None or isinstance(value, (dict, list)):
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        pairs.append(f"{key} {base64.b64encode(text.encode('utf-8')).decode('ascii')}")
    return ",".join(pairs)


def parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    """``Upload-Checksum: sha1 <base64 digest>`` → (algorithm, digest); unsupported algorithms are a 400."""
    if header is None:
        return None
    parts = header.strip().split(" ")
    if len(parts) != 2:
        raise BadRequest("Upload-Checksum 格式错误：应为“算法 base64摘要”", code="invalid_checksum")
    algorithm, encoded = parts[0].lower(), parts[1]
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise BadRequest(f"不支持的校验算法：{algorithm}", code="unsupported_checksum_algorithm",
                         details={"supported": list(CHECKSUM_ALGORITHMS)})
    try:
        digest = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("Upload-Checksum 的摘要不是有效的 base64", code="invalid_checksum") from None
    if len(digest) != hashlib.new(algorithm).digest_size:
        raise BadRequest("Upload-Checksum 的摘要长度与算法不符", code="invalid_checksum")
    return algorithm, digest


def discovery_headers(max_size: int) -> dict[str, str]:
    """The answer to ``OPTIONS``: versions, extensions, maximum size and checksum algorithms."""
    return {
        "Tus-Version": TUS_VERSION,
        "Tus-Extension": ",".join(TUS_EXTENSIONS),
        "Tus-Max-Size": str(max_size),
        "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
    }


def progress_headers(progress: UploadProgress) -> dict[str, str]:
    """Upload-Offset, Upload-Expires while receiving, and the material an upload became once completed."""
    headers = {"Upload-Offset": str(progress.offset)}
    if progress.status == "receiving" and progress.expires_at is not None:
        headers["Upload-Expires"] = http_date(progress.expires_at)
    if progress.status == "completed" and progress.material_id is not None:
        headers["Liufang-Material-Id"] = str(progress.material_id)
        headers["Liufang-Duplicate"] = "true" if progress.duplicate else "false"
    return headers
