"""Sending stored media to clients: HTTP Range (206/416), ETag (304) and Content-Disposition, or a redirect to a
presigned URL when the storage can make one (S3)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Iterator

from flask import Response, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from media.storage import Storage
from media.storage.base import content_disposition

STREAM_CHUNK = 256 * 1024


def _iter_stream(stream: Any) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(STREAM_CHUNK):
            yield chunk


def send_stored(storage: Storage, key: str, *, size: int, sha256: str, mime: str, download_name: str,
                disposition: str, cache_control: str, presign_for: timedelta) -> BaseResponse:
    """Answer a GET for one stored object; ``sha256`` of its bytes is the (strong) ETag."""
    url = storage.presigned_url(key, presign_for, download_name=download_name, content_type=mime)
    if url is not None:
        return redirect(url, code=302)
    headers = {"ETag": f'"{sha256}"', "Accept-Ranges": "bytes", "Cache-Control": cache_control,
               "Content-Disposition": content_disposition(download_name, disposition)}
    if request.if_none_match.contains(sha256):
        return Response(status=304, headers=headers)
    byte_range = request.range
    range_still_valid = "If-Range" not in request.headers or request.if_range.etag == sha256
    if byte_range is not None and range_still_valid:
        span = byte_range.range_for_length(size)
        if span is None:
            return Response(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        start, stop = span
        stream = storage.open_range(key, start, stop - start)
        return Response(_iter_stream(stream), status=206, mimetype=mime, direct_passthrough=True,
                        headers={**headers, "Content-Range": f"bytes {start}-{stop - 1}/{size}",
                                 "Content-Length": str(stop - start)})
    return Response(_iter_stream(storage.open_range(key)), status=200, mimetype=mime, direct_passthrough=True,
                    headers={**headers, "Content-Length": str(size)})
