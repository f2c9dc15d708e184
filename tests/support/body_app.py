"""A tiny WSGI app for tests of backend.api.request_body: reads the body through open_body and reports what it saw."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable, Iterable

from backend.api.request_body import open_body


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Reads at most ``?limit=N`` bytes of the body (all by default) in 64 KiB pieces; answers their SHA-256,
    their count and the reader's class."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    query = environ.get("QUERY_STRING", "")
    limit = int(query.removeprefix("limit=")) if query.startswith("limit=") else length
    body = open_body(environ, length, None)
    buffer = memoryview(bytearray(64 * 1024))
    digest, received = hashlib.sha256(), 0
    while received < limit:
        n = body.readinto(buffer[:min(len(buffer), limit - received)])
        if not n:
            break
        digest.update(buffer[:n])
        received += n
    answer = json.dumps({"sha256": digest.hexdigest(), "received": received,
                         "reader": type(body).__name__}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
    return [answer]
