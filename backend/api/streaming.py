"""Sending stored media to clients: HTTP Range as RFC 9110 says (206 for one range, 416 when none is satisfiable,
the whole file when the header is to be ignored), ETag (304) and Content-Disposition, or a redirect to a presigned
URL when the storage can make one (S3)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Iterator

from flask import Response, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from media.storage import Storage
from media.storage.base import content_disposition

STREAM_CHUNK = 256 * 1024


UNSATISFIABLE = (-1, -1)
_RANGE_SPEC = re.compile(r"([0-9]*)-([0-9]*)")


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The one span ``(start, stop)`` a ``Range`` header asks of ``size`` bytes (RFC 9110 §14.1.2, §14.2);
    ``UNSATISFIABLE`` (416) when no range it names exists; None to ignore it and send the whole representation,
    which the RFC allows for units other than bytes, for a malformed header, and for several ranges."""
    unit, equals, spec_list = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    specs = [spec.strip(" \t") for spec in spec_list.split(",") if spec.strip(" \t")]
    if len(specs) != 1:
        return None
    match = _RANGE_SPEC.fullmatch(specs[0])
    if match is None or not (match.group(1) or match.group(2)):
        return None
    first, last = _position(match.group(1)), _position(match.group(2))
    if first is None:  # suffix: the last N bytes, all of them if N is larger than the representation
        suffix = last or 0
        return UNSATISFIABLE if suffix == 0 or size == 0 else (max(0, size - suffix), size)
    if last is not None and last < first:
        return None  # an invalid range-spec makes the whole header invalid
    if first >= size:
        return UNSATISFIABLE
    return first, size if last is None else min(last + 1, size)


def _position(digits: str) -> int | None:
    """A byte position; a number of more than 30 digits is past the end of anything stored, whatever it is."""
    digits = digits.lstrip("0") or ("0" if digits else "")
    if not digits:
        return None
    return int(digits) if len(digits) <= 30 else 10**30


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
    range_header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    span = byte_range(range_header, size) if range_header and if_range in (None, headers["ETag"]) else None
    if span is UNSATISFIABLE:
        return Response(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    if span is not None:
        start, stop = span
        stream = storage.open_range(key, start, stop - start)
        return Response(_iter_stream(stream), status=206, mimetype=mime, direct_passthrough=True,
                        headers={**headers, "Content-Range": f"bytes {start}-{stop - 1}/{size}",
                                 "Content-Length": str(stop - start)})
    return Response(_iter_stream(storage.open_range(key)), status=200, mimetype=mime, direct_passthrough=True,
                    headers={**headers, "Content-Length": str(size)})
