"""S3-compatible storage (MinIO, SeaweedFS, AWS...) through the ``minio`` SDK."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta, timezone
from typing import BinaryIO, cast

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error

from ..errors import MediaError, ObjectNotFound, StorageError
from ..hashing import HashingReader, ReadableStream
from .base import (
    ObjectInfo,
    Storage,
    StoredObject,
    content_disposition,
    validate_key,
    validate_prefix,
)

__all__ = ["S3Storage"]

MIB = 1024 * 1024
_NOT_FOUND_CODES = {"NoSuchKey", "NoSuchObject", "NotFound", "ResourceNotFound"}
_MAX_PRESIGN = timedelta(days=7)  # SigV4 limit


class _ResponseReader(io.RawIOBase):
    """Raw stream over a urllib3 response; closing it returns the connection to the pool."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        super().__init__()
        self._response = response

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        try:
            data = self._response.read(len(view))
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError(f"读取中断 / S3 read failed: {exc}") from exc
        n = len(data)
        view[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                self._response.close()
                self._response.release_conn()
            finally:
                super().close()


class S3Storage(Storage):
    """Objects stored in one S3 bucket, keys used as object names.

    Uploads stream through :class:`~media.hashing.HashingReader` into ``put_object``; when
    the size is unknown (``length=-1``) or larger than ``part_size`` the SDK does a multipart
    upload, holding at most about ``(parallel_uploads + 1) * part_size`` bytes in memory, and
    aborts the upload if the stream fails. Range reads use ``get_object(offset, length)``.
    Presigned URLs carry ``response-content-disposition`` (RFC 5987 UTF-8 filename) and
    ``response-content-type`` so the browser saves e.g. ``口述史.m4a`` with the right type.

    ``key_prefix`` (e.g. ``"liufang/"``) lets several deployments share one bucket: every
    key is stored as ``key_prefix + key`` and listed without it.
    """

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = False,
        region: str | None = None,
        create_bucket: bool = True,
        part_size: int = 16 * MIB,
        *,
        parallel_uploads: int = 1,
        key_prefix: str = "",
        http_client: urllib3.PoolManager | None = None,
    ) -> None:
        if part_size < 5 * MIB:
            raise ValueError("part_size must be at least 5 MiB (S3 multipart minimum)")
        if key_prefix and not key_prefix.endswith("/"):
            raise ValueError("key_prefix must be empty or end with '/'")
        validate_prefix(key_prefix)
        self.key_prefix = key_prefix
        self.endpoint = endpoint
        self.bucket = bucket
        self.secure = secure
        self.region = region
        self.part_size = part_size
        self.parallel_uploads = max(1, parallel_uploads)
        try:
            self.client = Minio(
                endpoint,
                access_key=access_key,
                secret_key=secret_key,
                secure=secure,
                region=region,
                http_client=http_client,
            )
        except ValueError as exc:
            raise StorageError(f"S3 配置错误 / invalid S3 configuration: {exc}") from exc
        if create_bucket:
            self.ensure_bucket()

    def __repr__(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"S3Storage({scheme}://{self.endpoint}/{self.bucket}/{self.key_prefix})"

    # -- helpers -----------------------------------------------------------------------
    def _name(self, key: str) -> str:
        """The S3 object name of a (validated) key."""
        return self.key_prefix + validate_key(key)

    def _error(self, action: str, key: str | None, exc: Exception) -> MediaError:
        if isinstance(exc, S3Error) and exc.code in _NOT_FOUND_CODES and key is not None:
            return ObjectNotFound(key)
        target = f"{self.bucket}/{key}" if key else self.bucket
        return StorageError(f"S3 {action} 失败 / S3 {action} failed for {target}: {exc}")

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist yet."""
        try:
            if not self.client.bucket_exists(self.bucket):
                try:
                    self.client.make_bucket(self.bucket)
                except S3Error as exc:
                    if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                        raise
        except (MinioException, urllib3.exceptions.HTTPError, ValueError, OSError) as exc:
            raise self._error("create bucket", None, exc) from exc

    # -- writing -----------------------------------------------------------------------
    def put_stream(
        self,
        key: str,
        stream: ReadableStream,
        *,
        size: int | None = None,
        content_type: str | None = None,
    ) -> StoredObject:
        name = self._name(key)
        if size is not None and size < 0:
            raise StorageError(f"非法的大小 / invalid size: {size}")
        reader = HashingReader(stream, chunk_size=self.chunk_size, fill=True)
        try:
            self.client.put_object(
                self.bucket,
                name,
                cast(BinaryIO, reader),
                length=-1 if size is None else size,
                part_size=self.part_size,
                content_type=content_type or "application/octet-stream",
                num_parallel_uploads=self.parallel_uploads,
            )
        except (MinioException, urllib3.exceptions.HTTPError, ValueError) as exc:
            raise self._error("upload", key, exc) from exc
        except OSError as exc:
            # Raised by the SDK when the stream has fewer bytes than ``size`` (nothing is
            # stored then), or by the stream itself.
            raise StorageError(f"上传失败 / upload of {key!r} failed: {exc}") from exc
        if size is not None and reader.read(1):
            # More data than declared: the SDK stored exactly ``size`` bytes; undo that.
            self.delete(key)
            raise StorageError(
                f"数据长度不符 / stream for {key!r} is longer than the declared {size} bytes"
            )
        return StoredObject(key, reader.bytes_read, reader.sha256, content_type)

    # -- reading -----------------------------------------------------------------------
    def open_range(self, key: str, start: int = 0, length: int | None = None) -> BinaryIO:
        name = self._name(key)
        self._check_range(start, length)
        if length == 0:
            self.stat(key)  # still report a missing object
            return io.BytesIO(b"")
        try:
            response = self.client.get_object(self.bucket, name, offset=start, length=length or 0)
        except S3Error as exc:
            if exc.code == "InvalidRange":  # start at or past the end of the object
                return io.BytesIO(b"")
            raise self._error("read", key, exc) from exc
        except (MinioException, urllib3.exceptions.HTTPError, ValueError, OSError) as exc:
            raise self._error("read", key, exc) from exc
        return cast(BinaryIO, io.BufferedReader(_ResponseReader(response), self.chunk_size))

    def stat(self, key: str) -> ObjectInfo:
        name = self._name(key)
        try:
            st = self.client.stat_object(self.bucket, name)
        except (MinioException, urllib3.exceptions.HTTPError, ValueError, OSError) as exc:
            raise self._error("stat", key, exc) from exc
        modified = st.last_modified
        if modified is not None and modified.tzinfo is None:
            modified = modified.replace(tzinfo=timezone.utc)
        if modified is None:
            raise StorageError(f"S3 stat 失败 / no Last-Modified for {key!r}")
        content_type = st.content_type
        if content_type in (None, "", "application/octet-stream", "binary/octet-stream"):
            # S3 always reports a type; octet-stream is what we store when none was given.
            content_type = None
        return ObjectInfo(key=key, size=st.size or 0, modified_at=modified, content_type=content_type)

    def delete(self, key: str) -> None:
        name = self._name(key)
        try:
            self.client.remove_object(self.bucket, name)
        except S3Error as exc:
            if exc.code in _NOT_FOUND_CODES:
                return
            raise self._error("delete", key, exc) from exc
        except (MinioException, urllib3.exceptions.HTTPError, ValueError, OSError) as exc:
            raise self._error("delete", key, exc) from exc

    def presigned_url(
        self,
        key: str,
        expires: timedelta,
        *,
        download_name: str | None = None,
        content_type: str | None = None,
    ) -> str | None:
        name = self._name(key)
        if not timedelta(seconds=1) <= expires <= _MAX_PRESIGN:
            raise StorageError("签名链接有效期须在 1 秒到 7 天之间 / expires must be 1 s .. 7 days")
        response_headers: dict[str, str | list[str] | tuple[str]] = {}
        if download_name:
            response_headers["response-content-disposition"] = content_disposition(download_name)
        if content_type:
            response_headers["response-content-type"] = content_type
        try:
            return self.client.presigned_get_object(
                self.bucket, name, expires=expires, response_headers=response_headers or None
            )
        except (MinioException, urllib3.exceptions.HTTPError, ValueError, OSError) as exc:
            raise self._error("presign", key, exc) from exc

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)
        try:
            full_prefix = self.key_prefix + prefix
            for obj in self.client.list_objects(
                self.bucket, prefix=full_prefix or None, recursive=True
            ):
                name = obj.object_name
                if name and not obj.is_dir and name.startswith(self.key_prefix):
                    yield name[len(self.key_prefix):]
        except (MinioException, urllib3.exceptions.HTTPError, ValueError, OSError) as exc:
            raise self._error("list", None, exc) from exc
