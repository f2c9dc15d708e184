"""Storage backends behind one contract, and ``create_storage`` to build one from a URL or dict."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..hashing import ReadableStream
from .base import (
    ObjectInfo,
    Storage,
    StoredObject,
    content_disposition,
    validate_key,
    validate_prefix,
)
from .local import LocalStorage
from .s3 import S3Storage

__all__ = [
    "Storage",
    "ReadableStream",
    "StoredObject",
    "ObjectInfo",
    "LocalStorage",
    "S3Storage",
    "create_storage",
    "content_disposition",
    "validate_key",
    "validate_prefix",
]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name} must be a boolean, got {value!r}")


def create_storage(url_or_config: str | os.PathLike[str] | Mapping[str, Any]) -> Storage:
    """Build a storage backend from a URL, a path, or a config mapping.

    * ``/abs/path``, ``relative/path``, a ``PathLike`` or ``file:///abs/path`` → LocalStorage.
    * ``s3://ACCESS:SECRET@host:port/bucket?secure=false&region=cn-east-1&part_size_mb=16&create_bucket=true&prefix=liufang/``
      → S3Storage (access key and secret are percent-decoded, so ``/`` or ``@`` in a secret
      must be written ``%2F`` / ``%40``). ``s3s://`` is the same with ``secure=true``.
    * A mapping: ``{"backend": "local", "root": ...}`` or ``{"backend": "s3", "endpoint":
      "host:port", "access_key", "secret_key", "bucket", "secure", "region", "create_bucket",
      "part_size", "parallel_uploads", "key_prefix"}``.

    Raises ValueError for a malformed URL or config.
    """
    if isinstance(url_or_config, Mapping):
        return _from_mapping(url_or_config)
    if isinstance(url_or_config, os.PathLike):
        return LocalStorage(url_or_config)
    url = str(url_or_config).strip()
    if not url:
        raise ValueError("empty storage URL")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "" or (len(scheme) == 1 and os.name == "nt"):
        return LocalStorage(url)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"file URL must be file:///absolute/path, got {url!r}")
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise ValueError(f"file URL must hold an absolute path, got {url!r}")
        return LocalStorage(path)
    if scheme in {"s3", "s3s"}:
        if not parts.hostname:
            raise ValueError("s3 URL needs a host: s3://ACCESS:SECRET@host:port/bucket")
        bucket = parts.path.strip("/")
        if not bucket or "/" in bucket:
            raise ValueError("s3 URL needs exactly one bucket name as its path")
        if parts.username is None or parts.password is None:
            raise ValueError("s3 URL needs credentials: s3://ACCESS:SECRET@host:port/bucket")
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        config: dict[str, Any] = {
            "backend": "s3",
            "endpoint": parts.netloc.rpartition("@")[2],
            "access_key": unquote(parts.username),
            "secret_key": unquote(parts.password),
            "bucket": bucket,
            "secure": query.pop("secure", "true" if scheme == "s3s" else "false"),
        }
        if "region" in query:
            config["region"] = query.pop("region") or None
        if "create_bucket" in query:
            config["create_bucket"] = query.pop("create_bucket")
        if "prefix" in query:
            config["key_prefix"] = query.pop("prefix")
        if "part_size_mb" in query:
            config["part_size"] = int(query.pop("part_size_mb")) * 1024 * 1024
        if query:
            raise ValueError(f"unknown s3 URL option(s): {', '.join(sorted(query))}")
        return _from_mapping(config)
    raise ValueError(f"unsupported storage URL scheme {scheme!r} (use a path, file:// or s3://)")


def _from_mapping(config: Mapping[str, Any]) -> Storage:
    options = dict(config)
    backend = str(options.pop("backend", "local")).lower()
    if backend in {"local", "file"}:
        root = options.pop("root", None) or options.pop("path", None)
        if root is None:
            raise ValueError("local storage config needs 'root'")
        if options:
            raise ValueError(f"unknown local storage option(s): {', '.join(sorted(options))}")
        return LocalStorage(root)
    if backend == "s3":
        missing = [k for k in ("endpoint", "access_key", "secret_key", "bucket") if not options.get(k)]
        if missing:
            raise ValueError(f"s3 storage config lacks: {', '.join(missing)}")
        kwargs: dict[str, Any] = {
            "endpoint": options.pop("endpoint"),
            "access_key": options.pop("access_key"),
            "secret_key": options.pop("secret_key"),
            "bucket": options.pop("bucket"),
            "secure": _as_bool(options.pop("secure", False), "secure"),
            "region": options.pop("region", None),
            "create_bucket": _as_bool(options.pop("create_bucket", True), "create_bucket"),
        }
        if "part_size" in options:
            kwargs["part_size"] = int(options.pop("part_size"))
        if "key_prefix" in options:
            kwargs["key_prefix"] = str(options.pop("key_prefix"))
        if "parallel_uploads" in options:
            kwargs["parallel_uploads"] = int(options.pop("parallel_uploads"))
        if options:
            raise ValueError(f"unknown s3 storage option(s): {', '.join(sorted(options))}")
        return S3Storage(**kwargs)
    raise ValueError(f"unknown storage backend {backend!r}")
