"""Resumable (tus) uploads: their state in the database, their bytes in the partial-upload store, then ingest."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from backend import transaction
from backend.errors import BadRequest, Conflict, LiufangError, Locked, NotFound, PayloadTooLarge, UnsupportedMediaType
from backend.extensions import db
from backend.models import Upload, User
from backend.models.types import utcnow
from backend.services import materials
from media.errors import PartialUploadBusy, PartialUploadIncomplete
from media.partial_upload import (AppendOutcome, BodyReader, LockedUpload, PartialUploadStore, is_upload_id,
                                  new_upload_id)

log = logging.getLogger(__name__)

PROGRESS_SLACK = timedelta(minutes=1)  # a steady upload records its offset and expiry in the database this often
_STORE = "liufang_upload_store"


class UploadGone(LiufangError):
    status, code, message = 410, "upload_gone", "上传已终止、过期或失败，请重新上传"


class ChecksumMismatch(LiufangError):
    """tus checksum extension: 460 Checksum Mismatch."""

    status, code, message = 460, "checksum_mismatch", "数据块校验失败，已丢弃，请重传该数据块"


class ClientDisconnected(LiufangError):
    status, code, message = 400, "client_disconnected", "连接中断，已保存收到的部分"


# --- where the bytes live ---------------------------------------------------------------------------------------

def upload_store() -> PartialUploadStore:
    """The app's partial-upload store in ``UPLOAD_DIR`` (default: instance/uploads), made once per app."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    store = app.extensions.get(_STORE)
    if store is None:
        directory = app.config.get("UPLOAD_DIR") or os.path.join(app.instance_path, "uploads")
        store = app.extensions.setdefault(_STORE, PartialUploadStore(directory))
    return store


@contextmanager
def _exclusive(upload_id: str) -> Iterator[LockedUpload]:
    """The upload's bytes under its exclusive lock; 423 while another request (any worker process) holds it."""
    try:
        partial = upload_store().lock(upload_id)
    except PartialUploadBusy:
        raise Locked("该上传正在被另一个请求写入，请稍后重试", code="upload_busy",
                     details={"upload_id": upload_id}) from None
    with partial:
        yield partial


def _delete_bytes_on_commit(upload_id: str, *, keep_lock: bool) -> None:
    transaction.on_commit(functools.partial(upload_store().delete, upload_id, keep_lock=keep_lock))


def _bytes_missing() -> Conflict:
    return Conflict("上传的部分文件不完整", code="upload_bytes_missing")


# --- reading ----------------------------------------------------------------------------------------------------

def max_size() -> int:
    return int(current_app.config.get("TUS_MAX_SIZE") or 8 * 1024**3)


def get_upload(actor: User, upload_id: str) -> Upload:
    """The caller's own upload; anyone else's (or a malformed id) answers like a missing one."""
    upload = None
    if is_upload_id(upload_id):
        upload = db.session.get(Upload, upload_id)
    if upload is None or upload.user_id != actor.id:
        raise NotFound("上传不存在", code="upload_not_found")
    return upload


def current_offset(upload: Upload) -> int:
    """The durable offset: from the bytes on disk while receiving, the recorded one once finished."""
    if upload.status == "receiving":
        return upload_store().offset(upload.id)
    return upload.offset


@dataclass(frozen=True)
class UploadProgress:
    """What a tus answer reports about an upload (Upload-Offset, Upload-Expires, the material it became)."""

    status: str
    offset: int
    length: int
    expires_at: datetime | None = None
    material_id: int | None = None
    duplicate: bool = False


def progress(upload: Upload) -> UploadProgress:
    return UploadProgress(status=upload.status, offset=current_offset(upload), length=upload.length,
                          expires_at=upload.expires_at if upload.status == "receiving" else None,
                          material_id=upload.material_id, duplicate=bool(upload.duplicate))


def _is_expired(upload: Upload) -> bool:
    return upload.status == "receiving" and upload.expires_at <= utcnow()


EXPIRED_REASON = "上传长时间未继续，已过期"


def _expire_now(upload: Upload) -> None:
    """Mark an idle upload expired; its bytes are deleted once that is committed."""
    upload.status = "expired"
    upload.failure_reason = EXPIRED_REASON
    upload.updated_at = utcnow()
    db.session.flush()
    _delete_bytes_on_commit(upload.id, keep_lock=False)


def _expire_by_id(upload_id: str) -> None:
    """Follow-up of a 410 answered for an upload found idle past its expiry (under its lock)."""
    upload = db.session.get(Upload, upload_id, populate_existing=True)
    if upload is not None and _is_expired(upload):
        _expire_now(upload)


def _gone_expired(upload_id: str) -> UploadGone:
    return UploadGone(details={"status": "expired", "failure_reason": EXPIRED_REASON},
                      follow_up=functools.partial(_expire_by_id, upload_id))


def check_resumable(upload: Upload) -> None:
    """Raise 410 for an upload that can no longer take bytes (terminated, expired, failed)."""
    if upload.status in ("terminated", "expired", "failed"):
        raise UploadGone(details={"status": upload.status, "failure_reason": upload.failure_reason})
    if _is_expired(upload):
        try:
            with upload_store().lock(upload.id):
                db.session.refresh(upload)
                if not _is_expired(upload):
                    return  # a chunk arrived meanwhile
        except PartialUploadBusy:
            return  # someone is writing to it right now, so it is not idle
        raise _gone_expired(upload.id)


# --- creation ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FirstChunk:
    """The body of a creation-with-upload POST."""

    body: BodyReader
    content_length: int | None
    checksum: tuple[str, bytes] | None


def create_upload(actor: User, *, length: int, metadata: dict[str, str], first_chunk: FirstChunk | None = None
                  ) -> tuple[Upload, LiufangError | None]:
    """Validate the declared length and metadata (before any bytes are taken), then reserve an upload; with
    ``first_chunk`` (creation-with-upload) receive it first and record the upload with the offset reached.

    Returns the upload and, if the first chunk was cut off or refused, why (the upload exists all the same and the
    client goes on with PATCH). A complete file that cannot become a material raises (415, SHA-256 mismatch).
    """
    if length <= 0:
        raise BadRequest("不能上传空文件（Upload-Length 须大于 0）", code="empty_upload")
    limit = max_size()
    if length > limit:
        raise PayloadTooLarge(f"文件过大：最大 {limit} 字节", code="upload_too_large",
                              details={"length": length, "max_size": limit})
    normalised = materials.check_upload_metadata(actor, metadata)
    now = utcnow()
    upload = Upload(id=new_upload_id(), user_id=actor.id, length=length, offset=0,
                    upload_metadata=normalised, status="receiving", created_at=now, updated_at=now,
                    expires_at=now + current_app.config["TUS_EXPIRE"])
    upload_store().create(upload.id)
    log.info("upload %s created by user %s: %s bytes", upload.id, actor.id, length)
    if first_chunk is None:
        db.session.add(upload)
        db.session.flush()
        return upload, None
    problem: LiufangError | None = None
    with _exclusive(upload.id) as partial:
        if first_chunk.content_length is not None and first_chunk.content_length > length:
            problem = PayloadTooLarge("数据块超出声明的文件长度", code="chunk_exceeds_length",
                                      details={"offset": 0, "length": length, "chunk": first_chunk.content_length})
        else:
            # The row is written after the body is in: no connection or write lock is held while it streams.
            transaction.end_read_only()
            upload.offset, problem = _receive(partial, length, first_chunk.body, first_chunk.content_length,
                                              first_chunk.checksum)
        template = _columns(upload)
        db.session.add(upload)
        db.session.flush()
        if problem is None and upload.offset == length:
            _finish(actor, upload, partial, template=template)
    return upload, problem


def _columns(upload: Upload) -> dict[str, Any]:
    return {column.key: getattr(upload, column.key) for column in Upload.__table__.columns}


# --- appending --------------------------------------------------------------------------------------------------

def _ensure_receivable(upload: Upload) -> None:
    """Under the upload's lock: 410 unless it can still take bytes (expiring it if it sat idle too long)."""
    if _is_expired(upload):
        raise _gone_expired(upload.id)
    if upload.status in ("terminated", "expired", "failed"):
        raise UploadGone(details={"status": upload.status, "failure_reason": upload.failure_reason})


def append_chunk(actor: User, upload_id: str, *, offset: int, body: BodyReader, content_length: int | None,
                 checksum: tuple[str, bytes] | None) -> UploadProgress:
    """Append a PATCH body at ``offset`` (the tus core rule); on the last byte, verify and ingest the file.

    A chunk that fails its ``Upload-Checksum`` is discarded (460). A body cut off by the client is kept up to the
    byte received (fsynced), unless it carried a checksum, in which case it is discarded.
    """
    upload = get_upload(actor, upload_id)
    with _exclusive(upload.id) as partial:
        db.session.refresh(upload)
        _ensure_receivable(upload)
        if upload.status == "completed":
            if offset == upload.length and not content_length:
                return progress(upload)  # a retried final PATCH whose answer was lost
            raise Conflict("上传已完成", code="offset_mismatch", details={"offset": upload.offset},
                           headers={"Upload-Offset": str(upload.offset)})
        start, length = partial.offset, upload.length
        if offset != start:
            raise Conflict(f"Upload-Offset 不符：服务器已有 {start} 字节", code="offset_mismatch",
                           details={"offset": start, "requested": offset}, headers={"Upload-Offset": str(start)})
        if content_length is not None and start + content_length > length:
            raise PayloadTooLarge("数据块超出声明的文件长度", code="chunk_exceeds_length",
                                  details={"offset": start, "length": length, "chunk": content_length})
        recorded_expiry = upload.expires_at
        transaction.end_read_only()  # no connection is held while the body streams in (the row is now expired)
        end, problem = _receive(partial, length, body, content_length, checksum)
        now = utcnow()
        expires_at = now + current_app.config["TUS_EXPIRE"]
        if expires_at - recorded_expiry >= PROGRESS_SLACK or problem is not None or end == length:
            # We hold the upload's lock, so nobody else changed the row: update it without reading it back.
            db.session.execute(update(Upload).where(Upload.id == upload_id)
                               .values(offset=end, updated_at=now, expires_at=expires_at)
                               .execution_options(synchronize_session=False))
        else:
            expires_at = recorded_expiry  # the offset itself is on disk; the row catches up within PROGRESS_SLACK
        if problem is not None:
            problem.follow_up = functools.partial(_record_progress, upload_id, end, now, expires_at)
            raise problem
        if end == length:
            _finish(actor, upload, partial)
            return progress(upload)
    return UploadProgress(status="receiving", offset=end, length=length, expires_at=expires_at)


def _receive(partial: LockedUpload, length: int, body: BodyReader, content_length: int | None,
             checksum: tuple[str, bytes] | None) -> tuple[int, LiufangError | None]:
    """Append the body to the store. Returns the new durable offset and the error to answer with, if any."""
    try:
        appended = partial.append(body, length=length, content_length=content_length, checksum=checksum)
    except PartialUploadIncomplete:
        raise _bytes_missing() from None
    end = appended.offset
    if appended.outcome is AppendOutcome.OVERFLOW:
        return end, PayloadTooLarge("数据块超出声明的文件长度", code="chunk_exceeds_length",
                                    details={"offset": end, "length": length}, headers={"Upload-Offset": str(end)})
    if appended.outcome is AppendOutcome.CUT_OFF:
        message = "连接中断，带校验的数据块不完整，已丢弃" if appended.discarded else None
        return end, ClientDisconnected(message, details={"offset": end})
    if appended.outcome is AppendOutcome.CHECKSUM_MISMATCH:
        algorithm = checksum[0] if checksum is not None else ""
        return end, ChecksumMismatch(details={"offset": end, "algorithm": algorithm},
                                     headers={"Upload-Offset": str(end)})
    return end, None


def _record_progress(upload_id: str, offset: int, now: datetime, expires_at: datetime) -> None:
    """Follow-up of a PATCH answered with an error after some bytes were kept (a client that went away)."""
    db.session.execute(update(Upload).where(Upload.id == upload_id, Upload.status == "receiving")
                       .values(offset=offset, updated_at=now, expires_at=expires_at)
                       .execution_options(synchronize_session=False))


def _fail(upload_id: str, reason: str, template: dict[str, Any] | None = None) -> None:
    """Follow-up of an upload whose bytes cannot become a material: record why; delete the bytes once recorded.
    ``template`` re-creates the row of an upload created in the request that failed (creation-with-upload)."""
    upload = db.session.get(Upload, upload_id, populate_existing=True)
    if upload is None and template is not None:
        upload = Upload(**template)
        db.session.add(upload)
    if upload is None or upload.status != "receiving":
        return
    upload.status = "failed"
    upload.failure_reason = reason
    upload.updated_at = utcnow()
    db.session.flush()
    _delete_bytes_on_commit(upload_id, keep_lock=True)


def _finish(actor: User, upload: Upload, partial: LockedUpload, *, template: dict[str, Any] | None = None) -> None:
    """All bytes are in: check the whole-file SHA-256, then hand the file to ingest. Nothing half-written passes."""
    try:
        sha256 = partial.sha256()
    except PartialUploadIncomplete:
        raise _bytes_missing() from None
    expected = str(upload.upload_metadata.get("sha256") or "").strip().lower()
    if expected and expected != sha256:
        reason = f"文件 SHA-256 不符：手机端 {expected}，服务器收到 {sha256}；请重新上传"
        raise ChecksumMismatch("整个文件的 SHA-256 与手机端计算的不一致，已删除，请重新上传", code="sha256_mismatch",
                               details={"expected": expected, "received": sha256, "upload_id": upload.id},
                               follow_up=functools.partial(_fail, upload.id, reason, template))
    try:
        material, duplicate = materials.ingest(actor, partial.path, size=upload.length, sha256=sha256,
                                               metadata=dict(upload.upload_metadata), upload_id=upload.id)
    except UnsupportedMediaType as exc:
        exc.follow_up = functools.partial(_fail, upload.id, exc.message, template)
        exc.details.setdefault("upload_id", upload.id)
        raise
    except Exception:
        # The request is rolled back; bytes stay complete on disk and the upload stays receiving: an empty PATCH
        # at the end retries ingest.
        log.exception("upload %s: ingest failed", upload.id)
        raise
    upload.status = "completed"
    upload.material_id = material.id
    upload.duplicate = bool(duplicate)
    upload.offset = upload.length
    upload.updated_at = utcnow()
    db.session.flush()
    _delete_bytes_on_commit(upload.id, keep_lock=True)
    log.info("upload %s completed: material %s (duplicate: %s)", upload.id, material.id, duplicate)


# --- termination and expiry -------------------------------------------------------------------------------------

def terminate_upload(actor: User, upload_id: str) -> None:
    """tus termination: delete the bytes of an unfinished upload; finished ones cannot be terminated."""
    upload = get_upload(actor, upload_id)
    if upload.status == "completed":
        raise Conflict("上传已完成，不能终止", code="upload_completed")
    if upload.status != "receiving":
        raise UploadGone(details={"status": upload.status})
    with _exclusive(upload.id):
        db.session.refresh(upload)
        if upload.status != "receiving":
            raise UploadGone(details={"status": upload.status})
        upload.status = "terminated"
        upload.updated_at = utcnow()
        db.session.flush()
        _delete_bytes_on_commit(upload.id, keep_lock=True)


def purge_expired_uploads() -> int:
    """Delete the bytes of unfinished uploads idle past their expiry and mark them expired; returns how many.

    Also removes leftover files of uploads that are no longer receiving (e.g. a crash between the database
    commit and the file deletion). Uploads being written right now (lock held) are left for the next run.
    """
    store = upload_store()
    expired = 0
    ids = db.session.scalars(select(Upload.id).where(Upload.status == "receiving",
                                                     Upload.expires_at <= utcnow())).all()
    for upload_id in ids:
        try:
            with store.lock(upload_id):
                upload = db.session.get(Upload, upload_id, populate_existing=True)
                if upload is not None and _is_expired(upload):
                    _expire_now(upload)
                    expired += 1
        except PartialUploadBusy:
            continue
        store.remove_lock(upload_id)
    leftover = store.leftover_ids()
    if leftover:
        receiving = set(db.session.scalars(select(Upload.id).where(Upload.id.in_(leftover),
                                                                   Upload.status == "receiving")).all())
        for upload_id in leftover - receiving:
            try:
                with store.lock(upload_id):
                    if db.session.scalar(select(Upload.status).where(Upload.id == upload_id)) == "receiving":
                        continue
                    store.delete(upload_id, keep_lock=True)
            except PartialUploadBusy:
                continue
            store.remove_lock(upload_id)
    db.session.flush()
    if expired:
        log.info("purged %s expired uploads", expired)
    return expired
