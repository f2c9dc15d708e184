"""Helpers for other test modules (the authorisation matrix) that need an upload or a tus request."""

from __future__ import annotations

from typing import Any, Callable

from tests.uploads.conftest import encode_metadata, make_pdf, sha256_hex


def tus_request(*, chunk: bool = False, **headers: str) -> Callable[..., dict[str, Any]]:
    """Request arguments adding tus headers beside the matrix's Authorization header (``Upload_Offset="0"``)."""

    def args(_ids: dict[str, Any] | None = None) -> dict[str, Any]:
        environ = {f"HTTP_{key.upper()}": value for key, value in {"Tus_Resumable": "1.0.0", **headers}.items()}
        extra: dict[str, Any] = {"environ_base": environ}
        if chunk:
            extra.update(data=b"", content_type="application/offset+octet-stream")
        return extra

    return args


def an_upload(client: Any, auth: Any, app: Any) -> dict[str, Any]:
    """Setup: an unfinished upload created by `collector`."""
    data = make_pdf(2000)
    response = client.post("/api/v1/uploads", headers={
        **auth("collector"), "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)),
        "Upload-Metadata": encode_metadata(filename="访谈.pdf", sha256=sha256_hex(data))})
    assert response.status_code == 201, response.get_json()
    return {"id": response.headers["Location"].rsplit("/", 1)[1]}
