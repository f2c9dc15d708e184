"""Exception family raised by the media package (storage, sniffing, transcoding, images, PDFs, partial uploads)."""

from __future__ import annotations

__all__ = [
    "MediaError",
    "ObjectNotFound",
    "UnsupportedMedia",
    "CorruptMedia",
    "StorageError",
    "ProcessingError",
    "PartialUploadBusy",
    "PartialUploadIncomplete",
]


class MediaError(Exception):
    """Base class of every error raised by :mod:`media`.

    ``str(error)`` is a readable message (Chinese first, then English) that can be shown to
    a field collector; ``detail`` carries technical context (e.g. the tail of ffmpeg's
    stderr) for logs.
    """

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class ObjectNotFound(MediaError):
    """The storage key does not name an existing object."""

    def __init__(self, key: str) -> None:
        super().__init__(f"对象不存在 / object not found: {key}")
        self.key = key


class UnsupportedMedia(MediaError):
    """The content (judged by its bytes, never its filename) is not an accepted media type."""


class CorruptMedia(MediaError):
    """The content is of an accepted type but damaged, truncated or empty."""

    PREFIX = "文件已损坏或不完整"

    def __init__(self, reason: str, *, detail: str | None = None) -> None:
        super().__init__(f"{self.PREFIX} / {reason}", detail=detail)
        self.reason = reason


class StorageError(MediaError):
    """The storage backend failed (I/O error, S3 error, invalid key, size mismatch...)."""


class ProcessingError(MediaError):
    """A media tool failed for a reason not attributable to the input (timeout, missing tool)."""


class PartialUploadBusy(MediaError):
    """Another holder (a thread of this process or another process) has the partial upload's lock right now."""

    def __init__(self, upload_id: str) -> None:
        super().__init__(f"上传正在被另一个请求写入 / partial upload is locked: {upload_id}")
        self.upload_id = upload_id


class PartialUploadIncomplete(MediaError):
    """The partial upload's data file holds fewer bytes than its committed offset (it was removed or cut short)."""

    def __init__(self, upload_id: str, offset: int) -> None:
        super().__init__(f"上传的部分文件不完整 / partial upload has fewer than {offset} bytes: {upload_id}")
        self.upload_id, self.offset = upload_id, offset
