"""Resumable (tus) uploads: partial bytes on local disk, per-upload locks, checksums, whole-file SHA-256 and ingest."""

from __future__ import annotations

import functools
import fcntl
import hashlib
import logging
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from flask import current_app
from sqlalchemy import select, update

from backend import transaction
from backend.errors import BadRequest, Conflict, LiufangError, Locked, NotFound, PayloadTooLarge, UnsupportedMediaType
from backend.extensions import db
from backend.models import Upload, User
from backend.models.types import utcnow
from backend.services import materials
from media.fileutil import drop_cached, start_writeback, write_all
from media.hashing import BackgroundDigest

log = logging.getLogger(__name__)

READ_SIZE = 1024 * 1024            # bytes read from the request body at a time
COMMIT_EVERY = 32 * 1024 * 1024    # a long PATCH without Upload-Checksum makes its progress durable this often
PROGRESS_SLACK = timedelta(minutes=1)  # a steady upload records its offset and expiry in the database this often
PIPELINE_BYTES = 4 * READ_SIZE      # received bytes that may wait to be hashed (a PATCH answers without waiting)
_ID_CHARS = frozenset("0123456789abcdef")


class UploadGone(LiufangError):
    status, code, message = 410, "upload_gone", "上传已终止、过期或失败，请重新上传"


class ChecksumMismatch(LiufangError):
    """tus checksum extension: 460 Checksum Mismatch."""

    status, code, message = 460, "checksum_mismatch", "数据块校验失败，已丢弃，请重传该数据块"


class ClientDisconnected(LiufangError):
    status, code, message = 400, "client_disconnected", "连接中断，已保存收到的部分"


class BodyReader(Protocol):
    """A PATCH body read into buffers the service owns; 0 means it ended (or the client went away)."""

    def readinto(self, buffer: memoryview, /) -> int: ...


# --- where the bytes live ---------------------------------------------------------------------------------------

def upload_dir(*, create: bool = False) -> Path:
    """Where partial uploads live; ``create`` makes it first (creating an upload does, nothing else needs to)."""
    path = Path(current_app.config.get("UPLOAD_DIR") or os.path.join(current_app.instance_path, "uploads"))
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def _paths(upload_id: str) -> tuple[Path, Path, Path]:
    """The data file, the committed-offset marker and the lock file of an upload (names are server ids only)."""
    base = upload_dir()
    return base / upload_id, base / f"{upload_id}.offset", base / f"{upload_id}.lock"


def _committed_offset(upload_id: str) -> int:
    """Bytes that are on disk *and* were fsynced before the marker was written: the tus offset.

    A write that a kill -9 or power cut interrupted after the last marker is never reported; the next PATCH
    truncates it away before appending. No marker yet means nothing was committed.
    """
    data, marker, _ = _paths(upload_id)
    try:
        size = data.stat().st_size
    except FileNotFoundError:
        return 0
    try:
        committed = int(marker.read_text(encoding="ascii").strip() or 0)
    except (FileNotFoundError, ValueError):
        committed = 0
    return max(0, min(size, committed))


def _commit(upload_id: str, fh: BinaryIO, offset: int) -> None:
    """fsync the data, then record ``offset`` as durable: a fixed-size record overwritten in place and
    fdatasync'ed (one sector: it is either the old or the new number, never a mix)."""
    fh.flush()
    os.fsync(fh.fileno())
    _, marker, _ = _paths(upload_id)
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, b"%020d\n" % offset, 0)
        os.fdatasync(fd)
    finally:
        os.close(fd)


def _delete_bytes(upload_id: str, *, keep_lock: bool = False) -> None:
    data, marker, lock = _paths(upload_id)
    for path in (data, marker) + (() if keep_lock else (lock,)):
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    _forget_digest(upload_id)


@contextmanager
def _exclusive(upload_id: str) -> Iterator[None]:
    """Per-upload exclusive lock (flock on a lock file), shared by threads and gunicorn worker processes."""
    _, _, lock_path = _paths(upload_id)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise Locked("该上传正在被另一个请求写入，请稍后重试", code="upload_busy",
                     details={"upload_id": upload_id}) from None
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# --- whole-file SHA-256, continued across PATCHes -------------------------------------------------------------

_digests: OrderedDict[str, tuple[int, BackgroundDigest]] = OrderedDict()
_digests_lock = threading.Lock()
_DIGESTS_KEPT = 256


def _digest_at(upload_id: str, offset: int) -> BackgroundDigest:
    """The whole-file SHA-256 of the first ``offset`` bytes, as a background digest that more bytes can be queued
    into: this process's running one (it may still be hashing the end of the previous PATCH), or one rebuilt
    from the partial file (after a restart, or when the previous PATCH went to another worker process)."""
    with _digests_lock:
        cached = _digests.pop(upload_id, None)
    if cached is not None and cached[0] == offset:
        return cached[1]
    hasher = hashlib.sha256()
    data, _, _ = _paths(upload_id)
    remaining = offset
    if remaining:
        with open(data, "rb") as fh:
            while remaining:
                block = fh.read(min(READ_SIZE, remaining))
                if not block:
                    raise Conflict("上传的部分文件不完整", code="upload_bytes_missing")
                hasher.update(block)
                remaining -= len(block)
    return BackgroundDigest(hasher, max_pending=PIPELINE_BYTES)


def _remember_digest(upload_id: str, offset: int, digest: BackgroundDigest) -> None:
    with _digests_lock:
        _digests[upload_id] = (offset, digest)
        _digests.move_to_end(upload_id)
        while len(_digests) > _DIGESTS_KEPT:
            _digests.popitem(last=False)


def _forget_digest(upload_id: str) -> None:
    with _digests_lock:
        _digests.pop(upload_id, None)


class _BufferPool:
    """Receive buffers handed back once their bytes are written and hashed, so a busy process does not allocate
    (and page-fault) a fresh megabyte per read; at most ``keep`` spare ones are held."""

    def __init__(self, size: int, keep: int) -> None:
        self.size, self._keep = size, keep
        self._spare: list[bytearray] = []
        self._lock = threading.Lock()

    def get(self) -> bytearray:
        with self._lock:
            if self._spare:
                return self._spare.pop()
        return bytearray(self.size)

    def put(self, buffer: bytearray) -> None:
        with self._lock:
            if len(self._spare) < self._keep:
                self._spare.append(buffer)


_buffers = _BufferPool(READ_SIZE, keep=PIPELINE_BYTES // READ_SIZE + 2)


# --- reading ----------------------------------------------------------------------------------------------------

def max_size() -> int:
    return int(current_app.config.get("TUS_MAX_SIZE") or 8 * 1024**3)


def get_upload(actor: User, upload_id: str) -> Upload:
    """The caller's own upload; anyone else's (or a malformed id) answers like a missing one."""
    upload = None
    if len(upload_id) == 32 and set(upload_id) <= _ID_CHARS:
        upload = db.session.get(Upload, upload_id)
    if upload is None or upload.user_id != actor.id:
        raise NotFound("上传不存在", code="upload_not_found")
    return upload


def current_offset(upload: Upload) -> int:
    """The durable offset: from the bytes on disk while receiving, the recorded one once finished."""
    if upload.status == "receiving":
        return _committed_offset(upload.id)
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
    upload_id = upload.id
    transaction.on_commit(lambda: _delete_bytes(upload_id))


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
            with _exclusive(upload.id):
                db.session.refresh(upload)
                if not _is_expired(upload):
                    return  # a chunk arrived meanwhile
        except Locked:
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
    upload = Upload(id=secrets.token_hex(16), user_id=actor.id, length=length, offset=0,
                    upload_metadata=normalised, status="receiving", created_at=now, updated_at=now,
                    expires_at=now + current_app.config["TUS_EXPIRE"])
    upload_dir(create=True)
    data, _, _ = _paths(upload.id)
    with open(data, "xb") as fh:
        os.fsync(fh.fileno())
    log.info("upload %s created by user %s: %s bytes", upload.id, actor.id, length)
    if first_chunk is None:
        db.session.add(upload)
        db.session.flush()
        return upload, None
    problem: LiufangError | None = None
    with _exclusive(upload.id):
        if first_chunk.content_length is not None and first_chunk.content_length > length:
            problem = PayloadTooLarge("数据块超出声明的文件长度", code="chunk_exceeds_length",
                                      details={"offset": 0, "length": length, "chunk": first_chunk.content_length})
        else:
            # The row is written after the body is in: no connection or write lock is held while it streams.
            transaction.end_read_only()
            upload.offset, problem = _receive(upload.id, 0, length, first_chunk.body, first_chunk.content_length,
                                              first_chunk.checksum)
        template = _columns(upload)
        db.session.add(upload)
        db.session.flush()
        if problem is None and upload.offset == length:
            _finish(actor, upload, template=template)
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

    Bytes are streamed in READ_SIZE pieces; memory does not grow with the file. A chunk that fails its
    ``Upload-Checksum`` is discarded (460). A body cut off by the client is kept up to the byte received
    (fsynced), unless it carried a checksum, in which case it is discarded.
    """
    upload = get_upload(actor, upload_id)
    with _exclusive(upload.id):
        db.session.refresh(upload)
        _ensure_receivable(upload)
        if upload.status == "completed":
            if offset == upload.length and not content_length:
                return progress(upload)  # a retried final PATCH whose answer was lost
            raise Conflict("上传已完成", code="offset_mismatch", details={"offset": upload.offset},
                           headers={"Upload-Offset": str(upload.offset)})
        start, length = _committed_offset(upload.id), upload.length
        if offset != start:
            raise Conflict(f"Upload-Offset 不符：服务器已有 {start} 字节", code="offset_mismatch",
                           details={"offset": start, "requested": offset}, headers={"Upload-Offset": str(start)})
        if content_length is not None and start + content_length > length:
            raise PayloadTooLarge("数据块超出声明的文件长度", code="chunk_exceeds_length",
                                  details={"offset": start, "length": length, "chunk": content_length})
        recorded_expiry = upload.expires_at
        transaction.end_read_only()  # no connection is held while the body streams in (the row is now expired)
        end, problem = _receive(upload_id, start, length, body, content_length, checksum)
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
            _finish(actor, upload)
            return progress(upload)
    return UploadProgress(status="receiving", offset=end, length=length, expires_at=expires_at)


def _receive(upload_id: str, start: int, length: int, body: BodyReader, content_length: int | None,
             checksum: tuple[str, bytes] | None) -> tuple[int, LiufangError | None]:
    """Write the body after ``start``. Returns the new durable offset and the error to answer with, if any.

    Each piece is read into a pooled buffer, written, then queued for hashing on a helper thread, so receiving,
    writing and hashing run side by side and no byte is copied in Python. Without an Upload-Checksum the answer
    does not wait for the hashing: it finishes while the phone sends the next PATCH. With one, it does, since
    the chunk's digest decides the answer.
    """
    digest = _digest_at(upload_id, start)
    before = None
    algorithm, expected_digest = checksum if checksum is not None else ("", b"")
    chunk_hash = hashlib.new(algorithm) if algorithm else None
    if chunk_hash is not None:
        digest.wait()
        before = digest.digests[0].copy()
    room = length - start
    received = committed = 0
    overflow = disconnected = False
    data, _, _ = _paths(upload_id)
    with open(data, "r+b" if data.exists() else "w+b", buffering=0) as fh:
        if os.fstat(fh.fileno()).st_size != start:
            fh.truncate(start)  # drop anything written after the last commit (an interrupted write, kill -9)
        fd = fh.fileno()
        while content_length is None or received < content_length:
            buffer = _buffers.get()
            want = READ_SIZE if content_length is None else min(READ_SIZE, content_length - received)
            try:
                n = body.readinto(memoryview(buffer)[:want])
            except Exception as exc:  # WSGI servers report a vanished client in their own ways
                log.info("upload %s: body cut off after %s bytes (%s)", upload_id, received, exc)
                n, disconnected = 0, True
            if not n or received + n > room:
                _buffers.put(buffer)
                overflow = bool(n)
                disconnected = disconnected or (not n and content_length is not None)
                break
            piece = memoryview(buffer)[:n]
            write_all(fd, piece, start + received)
            start_writeback(fd, start + received, n)
            digest.update(piece, extra=chunk_hash, release=functools.partial(_buffers.put, buffer))
            received += n
            if chunk_hash is None and received - committed >= COMMIT_EVERY:
                _commit(upload_id, fh, start + received)
                drop_cached(fd, start + committed, received - committed)
                committed = received
        if chunk_hash is not None:
            digest.wait()
            if disconnected or overflow or chunk_hash.digest() != expected_digest:
                fh.truncate(start)
                _commit(upload_id, fh, start)
                _remember_digest(upload_id, start, BackgroundDigest(before, max_pending=PIPELINE_BYTES))
                if overflow:
                    return start, _too_long(start, length)
                if disconnected:
                    return start, ClientDisconnected("连接中断，带校验的数据块不完整，已丢弃", details={"offset": start})
                return start, ChecksumMismatch(details={"offset": start, "algorithm": algorithm},
                                               headers={"Upload-Offset": str(start)})
        _commit(upload_id, fh, start + received)
        drop_cached(fd, start + committed, received - committed)
    end = start + received
    _remember_digest(upload_id, end, digest)
    if overflow:
        return end, _too_long(end, length)
    if disconnected:
        return end, ClientDisconnected(details={"offset": end})
    return end, None


def _too_long(offset: int, length: int) -> PayloadTooLarge:
    return PayloadTooLarge("数据块超出声明的文件长度", code="chunk_exceeds_length",
                           details={"offset": offset, "length": length}, headers={"Upload-Offset": str(offset)})


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
    transaction.on_commit(lambda: _delete_bytes(upload_id, keep_lock=True))


def _finish(actor: User, upload: Upload, *, template: dict[str, Any] | None = None) -> None:
    """All bytes are in: check the whole-file SHA-256, then hand the file to ingest. Nothing half-written passes."""
    data, _, _ = _paths(upload.id)
    digest = _digest_at(upload.id, upload.length)
    digest.wait()
    sha256 = digest.digests[0].hexdigest()
    expected = str(upload.upload_metadata.get("sha256") or "").strip().lower()
    if expected and expected != sha256:
        reason = f"文件 SHA-256 不符：手机端 {expected}，服务器收到 {sha256}；请重新上传"
        raise ChecksumMismatch("整个文件的 SHA-256 与手机端计算的不一致，已删除，请重新上传", code="sha256_mismatch",
                               details={"expected": expected, "received": sha256, "upload_id": upload.id},
                               follow_up=functools.partial(_fail, upload.id, reason, template))
    try:
        material, duplicate = materials.ingest(actor, data, size=upload.length, sha256=sha256,
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
    upload_id = upload.id
    transaction.on_commit(lambda: _delete_bytes(upload_id, keep_lock=True))
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
        upload_id = upload.id
        transaction.on_commit(lambda: _delete_bytes(upload_id, keep_lock=True))


def purge_expired_uploads() -> int:
    """Delete the bytes of unfinished uploads idle past their expiry and mark them expired; returns how many.

    Also removes leftover files of uploads that are no longer receiving (e.g. a crash between the database
    commit and the file deletion). Uploads being written right now (lock held) are left for the next run.
    """
    expired = 0
    ids = db.session.scalars(select(Upload.id).where(Upload.status == "receiving",
                                                     Upload.expires_at <= utcnow())).all()
    for upload_id in ids:
        try:
            with _exclusive(upload_id):
                upload = db.session.get(Upload, upload_id, populate_existing=True)
                if upload is not None and _is_expired(upload):
                    _expire_now(upload)
                    expired += 1
        except Locked:
            continue
        _, _, lock = _paths(upload_id)
        lock.unlink(missing_ok=True)
    directory = upload_dir(create=True)
    leftover = {name.split(".")[0] for name in os.listdir(directory)}
    leftover = {name for name in leftover if len(name) == 32 and set(name) <= _ID_CHARS}
    if leftover:
        receiving = set(db.session.scalars(select(Upload.id).where(Upload.id.in_(leftover),
                                                                   Upload.status == "receiving")).all())
        for upload_id in leftover - receiving:
            try:
                with _exclusive(upload_id):
                    if db.session.scalar(select(Upload.status).where(Upload.id == upload_id)) == "receiving":
                        continue
                    _delete_bytes(upload_id, keep_lock=True)
            except Locked:
                continue
            _, _, lock = _paths(upload_id)
            lock.unlink(missing_ok=True)
    db.session.flush()
    if expired:
        log.info("purged %s expired uploads", expired)
    return expired
