"""Liufang media toolkit (no Flask): storage backends, type sniffing, ffmpeg, images, PDFs.

Modules: :mod:`media.errors` (exception family), :mod:`media.storage` (the ``Storage``
contract, ``LocalStorage``, ``S3Storage``, ``create_storage``), :mod:`media.hashing`,
:mod:`media.sniff`, :mod:`media.ffmpeg`, :mod:`media.images`, :mod:`media.pdf`,
:mod:`media.partial_upload` (resumable uploads' bytes on local disk).
"""

from .errors import (
    CorruptMedia,
    MediaError,
    ObjectNotFound,
    PartialUploadBusy,
    PartialUploadIncomplete,
    ProcessingError,
    StorageError,
    UnsupportedMedia,
)

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
