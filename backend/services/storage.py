"""The app's media storage, built once per app from ``STORAGE_URL`` (local disk by default, S3 by URL)."""

from __future__ import annotations

from flask import current_app

from media.storage import Storage, create_storage


def get_storage() -> Storage:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    storage = app.extensions.get("liufang_storage")
    if storage is None:
        storage = create_storage(app.config["STORAGE_URL"])
        app.extensions["liufang_storage"] = storage
    return storage


def original_key(sha256: str) -> str:
    """Content-addressed key of an original: the same bytes always land on the same key."""
    return f"originals/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def derivative_key(material_id: int, variant: str, extension: str) -> str:
    return f"derivatives/{material_id}/{variant}.{extension}"
