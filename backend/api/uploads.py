"""tus 1.0.0 resumable upload endpoints (creation, creation-with-upload, termination, checksum, expiration)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request
from flask.views import MethodView
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from backend.api import tus
from backend.api.base import accepts_body, login_required, skip_idempotency
from backend.api.request_body import open_body
from backend.errors import BadRequest, LiufangError, UnsupportedMediaType
from backend.models import Upload
from backend.schemas.uploads import UploadStatusSchema
from backend.services import uploads as upload_service
from backend.services.policy import Permission
from media.partial_upload import BodyReader

blp = Blueprint("uploads", __name__, url_prefix="/api/v1/uploads",
                description="断点续传上传（tus 1.0.0） / Resumable uploads (tus 1.0.0)")


@blp.after_request
def _tus_headers(response: Response) -> Response:
    """Every answer of these endpoints, errors included, speaks tus and is never cached."""
    response.headers["Tus-Resumable"] = tus.TUS_VERSION
    response.headers["Cache-Control"] = "no-store"
    if response.status_code == 412:
        response.headers["Tus-Version"] = tus.TUS_VERSION
    if response.status_code == 413:
        response.headers["Tus-Max-Size"] = str(upload_service.max_size())
    return response


# --- the request body -------------------------------------------------------------------------------------------

def _body_length() -> int | None:
    """Declared body size; None for a chunked body (read until the server says it ends)."""
    if request.headers.get("Transfer-Encoding", "").lower() == "chunked":
        return None
    return request.content_length or 0


def _open_body() -> BodyReader:
    """The chunk's bytes. With a Content-Length the service reads exactly that many bytes from the server's input
    (straight from the socket under gunicorn; a short read means the client went away); a chunked body is read
    through Werkzeug's stream, which knows where it ends."""
    length = _body_length()
    if length is None:
        request.max_content_length = upload_service.max_size()  # lift the 1 MiB JSON limit for tus bodies only
        return open_body(request.environ, None, request.stream)
    idle = current_app.config["UPLOAD_IDLE_SECONDS"]
    return open_body(request.environ, length, None, idle_timeout=idle if idle > 0 else None)


def _has_body() -> bool:
    length = _body_length()
    return length is None or length > 0


def _check_chunk_type() -> None:
    if request.mimetype != tus.CHUNK_TYPE:
        raise UnsupportedMediaType(f"数据块的 Content-Type 须为 {tus.CHUNK_TYPE}", code="unsupported_media_type",
                                   details={"content_type": request.mimetype, "accepted": [tus.CHUNK_TYPE]})


# --- serialising ------------------------------------------------------------------------------------------------

def _empty(status: int, headers: dict[str, str]) -> Response:
    """A tus answer: everything is in the headers, and there is no body (so no Content-Type either)."""
    response = Response(status=status)
    del response.headers["Content-Type"]
    response.headers.update(headers)
    return response


def serialise(upload: Upload) -> dict[str, Any]:
    return {
        "id": upload.id,
        "status": upload.status,
        "offset": upload_service.current_offset(upload),
        "length": upload.length,
        "expires_at": upload.expires_at.isoformat() if upload.status == "receiving" else None,
        "failure_reason": upload.failure_reason,
        "material_id": upload.material_id,
        "duplicate": upload.duplicate,
        "metadata": upload.upload_metadata,
        "created_at": upload.created_at.isoformat(),
        "updated_at": upload.updated_at.isoformat(),
    }


# --- endpoints --------------------------------------------------------------------------------------------------

@blp.route("")
class Uploads(MethodView):
    # as_view applies these to the registered view function, where the JSON-only and replay hooks look
    decorators = [accepts_body(tus.CHUNK_TYPE), skip_idempotency]

    @blp.response(204, description="Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm")
    @blp.doc(security=[])
    def options(self) -> Response:
        """tus discovery: versions, extensions, maximum size and checksum algorithms (no login needed)."""
        return _empty(204, tus.discovery_headers(upload_service.max_size()))

    @blp.response(201, description="Created: Location, Upload-Offset (the first chunk's bytes, if one came), "
                                    "Upload-Expires; Liufang-Material-Id once the whole file came")
    @blp.alt_response(400, description="Malformed Upload-Length, Upload-Metadata or Upload-Checksum")
    @blp.alt_response(412, description="Tus-Resumable missing or not 1.0.0")
    @blp.alt_response(413, description="Upload-Length above Tus-Max-Size")
    @blp.alt_response(422, description="Metadata refused (unknown person or interview, bad sha256, …)")
    @login_required(Permission.MATERIAL_UPLOAD)
    def post(self) -> Response:
        """Create an upload (tus creation). Headers: Upload-Length, Upload-Metadata (base64 values: filename,
        filetype, sha256, person_id, interview_id, project_id, captured_at, latitude, longitude, device, title;
        a project the uploader cannot file into is 403 project_closed). A body of
        type application/offset+octet-stream is taken as the first chunk (creation-with-upload)."""
        tus.require_version(request.headers)
        if request.headers.get("Upload-Defer-Length") is not None:
            raise BadRequest("不支持延后声明长度（creation-defer-length）", code="defer_length_unsupported")
        length = tus.int_header(request.headers, "Upload-Length")
        metadata = tus.parse_metadata(request.headers.get("Upload-Metadata"))
        checksum = tus.parse_checksum(request.headers.get("Upload-Checksum"))
        first_chunk = None
        if _has_body():
            _check_chunk_type()
            first_chunk = upload_service.FirstChunk(_open_body(), _body_length(), checksum)
        try:
            # A first chunk that was cut off or refused still leaves the upload: the client learns the accepted
            # offset and goes on with PATCH.
            upload, _problem = upload_service.create_upload(current_user, length=length or 0, metadata=metadata,
                                                            first_chunk=first_chunk)
        except LiufangError as error:  # the whole file came in the POST and cannot become a material
            if "upload_id" in error.details:
                error.headers["Location"] = f"{blp.url_prefix}/{error.details['upload_id']}"
            raise
        headers = {"Location": f"{blp.url_prefix}/{upload.id}"}
        headers.update(tus.progress_headers(upload_service.progress(upload)))
        return _empty(201, headers)


@blp.route("/<upload_id>")
class UploadResource(MethodView):
    decorators = [accepts_body(tus.CHUNK_TYPE), skip_idempotency]

    @blp.response(200, description="Upload-Offset, Upload-Length, Upload-Metadata; no body")
    @blp.alt_response(404, description="No such upload of yours")
    @blp.alt_response(410, description="Terminated, failed or expired")
    @login_required(Permission.MATERIAL_UPLOAD)
    def head(self, upload_id: str) -> Response:
        """tus: the offset the server holds (durable bytes on disk), the length and the metadata."""
        upload = upload_service.get_upload(current_user, upload_id)
        tus.require_version(request.headers)
        upload_service.check_resumable(upload)
        headers = tus.progress_headers(upload_service.progress(upload))
        headers["Upload-Length"] = str(upload.length)
        encoded = tus.encode_metadata(upload.upload_metadata or {})
        if encoded:
            headers["Upload-Metadata"] = encoded
        return _empty(200, headers)

    @blp.response(200, UploadStatusSchema)
    @blp.alt_response(404, description="No such upload of yours")
    @login_required(Permission.MATERIAL_UPLOAD)
    def get(self, upload_id: str) -> Response:
        """What became of an upload (not part of tus): status, offset, failure reason, the material it made."""
        return jsonify(serialise(upload_service.get_upload(current_user, upload_id)))

    @blp.response(204, description="Upload-Offset; Liufang-Material-Id and Liufang-Duplicate after the last chunk")
    @blp.alt_response(400, description="Malformed Upload-Offset or Upload-Checksum")
    @blp.alt_response(404, description="No such upload of yours")
    @blp.alt_response(409, description="Upload-Offset is not the server's offset")
    @blp.alt_response(410, description="Terminated, failed or expired")
    @blp.alt_response(413, description="The chunk goes beyond Upload-Length")
    @blp.alt_response(415, description="Content-Type is not application/offset+octet-stream")
    @blp.alt_response(423, description="Another request is writing this upload")
    @blp.alt_response(460, description="Upload-Checksum does not match the chunk")
    @login_required(Permission.MATERIAL_UPLOAD)
    def patch(self, upload_id: str) -> Response:
        """tus: append a chunk at Upload-Offset (409 if it is not the server's offset; 460 if Upload-Checksum
        fails; 423 while another request writes the same upload). The last chunk answers with
        Liufang-Material-Id and Liufang-Duplicate."""
        upload = upload_service.get_upload(current_user, upload_id)  # 404 before any other complaint
        tus.require_version(request.headers)
        _check_chunk_type()
        offset = tus.int_header(request.headers, "Upload-Offset")
        checksum = tus.parse_checksum(request.headers.get("Upload-Checksum"))
        progress = upload_service.append_chunk(current_user, upload.id, offset=offset or 0, body=_open_body(),
                                               content_length=_body_length(), checksum=checksum)
        return _empty(204, tus.progress_headers(progress))

    @blp.response(204, description="Terminated: the bytes are deleted")
    @blp.alt_response(404, description="No such upload of yours")
    @blp.alt_response(410, description="Already terminated, failed or expired")
    @login_required(Permission.MATERIAL_UPLOAD)
    def delete(self, upload_id: str) -> Response:
        """tus termination: stop an unfinished upload and delete its bytes."""
        upload_service.get_upload(current_user, upload_id)
        tus.require_version(request.headers)
        upload_service.terminate_upload(current_user, upload_id)
        return _empty(204, {})
