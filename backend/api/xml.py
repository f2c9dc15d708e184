"""XML answers (EAC-CPF, Dublin Core, OAI-PMH): UTF-8 bodies with a file name for those who save them."""

from __future__ import annotations

from flask import Response

from media.storage.base import content_disposition

XML_CONTENT_TYPE = "application/xml; charset=utf-8"


def xml_response(body: bytes, filename: str | None = None, status: int = 200) -> Response:
    response = Response(body, status=status, content_type=XML_CONTENT_TYPE)
    if filename:
        response.headers["Content-Disposition"] = content_disposition(filename, "inline")
    return response
