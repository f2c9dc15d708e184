"""Exception family raised by the media package (storage, sniffing, transcoding, images, PDFs)."""

from __future__ import annotations

__all__ = [
    "MediaError",
    "ObjectNotFound",
    "UnsupportedMedia",
    "CorruptMedia",
    "StorageError",
    "ProcessingError",
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
