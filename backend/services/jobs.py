"""Job records and the runner that every background task goes through: attempts, progress, heartbeat, failure.

A job is a row first and a queue message second: the row says what must happen and what did happen. A worker that
dies mid-job leaves the row ``running`` with a stale heartbeat; ``requeue_stale`` puts such jobs back in the queue,
so they run again, and handlers are written to be idempotent (no duplicate derivatives or transcripts).
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta
from typing import Any, Callable

from flask import current_app
from sqlalchemy import select

from backend.errors import Conflict, NotFound
from backend.extensions import db, queue
from backend.models import Job, User
from backend.models.types import utcnow

log = logging.getLogger(__name__)
FINAL_STATES = ("succeeded", "failed", "cancelled")
HEARTBEAT_EVERY = 10.0


class JobCancelled(Exception):
    """Raised inside a handler (through the progress callback) when someone cancelled the job."""


class PermanentFailure(Exception):
    """A failure that another attempt cannot fix (corrupt input): the job fails at once, with this reason."""


Handler = Callable[[Job, Callable[[float], None]], dict[str, Any] | None]
HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def submit(kind: str, *, material_id: int | None = None, params: dict[str, Any] | None = None,
           actor: User | None = None, max_attempts: int = 3) -> Job:
    """Record a job and queue it (commits)."""
    job = Job(id=uuid.uuid4().hex, kind=kind, material_id=material_id, params=params or {},
              created_by_id=actor.id if actor else None, max_attempts=max_attempts)
    db.session.add(job)
    db.session.commit()
    queue.enqueue("run_job", job.id)
    return job


def get_job(job_id: str) -> Job:
    job = db.session.get(Job, job_id)
    if job is None:
        raise NotFound("任务不存在", code="job_not_found")
    return job


def cancel(job: Job) -> Job:
    if job.status in FINAL_STATES:
        raise Conflict("任务已结束，不能取消", code="job_finished", details={"status": job.status})
    job.cancel_requested = True
    if job.status == "queued":
        job.status, job.finished_at, job.error = "cancelled", utcnow(), "已取消"
    db.session.commit()
    return job


class _Heartbeat:
    """Touches the job's heartbeat from a side thread while a long step (ffmpeg, model load) runs."""

    def __init__(self, app: Any, job_id: str) -> None:
        self._app, self._job_id = app, job_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY):
            with self._app.app_context():
                job = db.session.get(Job, self._job_id)
                if job is not None and job.status == "running":
                    job.heartbeat_at = utcnow()
                    db.session.commit()
                db.session.remove()


def run(job_id: str) -> None:
    """Run one attempt of a job (called by the queue worker)."""
    job = db.session.get(Job, job_id)
    if job is None or job.status in FINAL_STATES:
        return
    if job.cancel_requested:
        job.status, job.finished_at = "cancelled", utcnow()
        db.session.commit()
        return
    job.status, job.attempts, job.error = "running", job.attempts + 1, None
    job.started_at = job.heartbeat_at = utcnow()
    db.session.commit()

    last_commit = [0.0]

    def progress(percent: float) -> None:
        db.session.refresh(job, attribute_names=["cancel_requested"])
        if job.cancel_requested:
            raise JobCancelled()
        job.progress = round(max(job.progress, min(100.0, percent)), 1)
        job.heartbeat_at = utcnow()
        now = job.heartbeat_at.timestamp()
        if now - last_commit[0] >= 1.0 or percent >= 100:
            last_commit[0] = now
            db.session.commit()

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        with _Heartbeat(app, job.id):
            result = HANDLERS[job.kind](job, progress)
    except JobCancelled:
        db.session.rollback()
        job = db.session.get(Job, job_id)
        job.status, job.finished_at, job.error = "cancelled", utcnow(), "已取消"
        db.session.commit()
        return
    except PermanentFailure as exc:
        _finish_failed(job_id, str(exc))
        return
    except Exception as exc:  # noqa: BLE001 - every failure must end in the job row, never vanish
        log.exception("job %s (%s) attempt failed", job_id, job.kind)
        db.session.rollback()
        job = db.session.get(Job, job_id)
        reason = f"{type(exc).__name__}: {exc}"
        if job.attempts < job.max_attempts:
            job.status, job.error = "queued", reason
            db.session.commit()
            queue.enqueue("run_job", job.id)
        else:
            _finish_failed(job_id, reason)
        return
    job.status, job.progress, job.finished_at = "succeeded", 100.0, utcnow()
    job.result = result or {}
    db.session.commit()


def _finish_failed(job_id: str, reason: str) -> None:
    db.session.rollback()
    job = db.session.get(Job, job_id)
    job.status, job.error, job.finished_at = "failed", reason, utcnow()
    db.session.commit()


def requeue_stale() -> list[str]:
    """Queue again the jobs whose worker died (running, heartbeat older than JOB_STALE_SECONDS)."""
    stale_after = timedelta(seconds=current_app.config.get("JOB_STALE_SECONDS", 120))
    cutoff = utcnow() - stale_after
    stale = db.session.scalars(select(Job).where(Job.status == "running", Job.heartbeat_at < cutoff)).all()
    requeued = []
    for job in stale:
        log.warning("job %s (%s) lost its worker; queueing it again", job.id, job.kind)
        job.status = "queued"
        job.error = "worker stopped during the job; retrying"
        requeued.append(job.id)
    db.session.commit()
    for job_id in requeued:
        queue.enqueue("run_job", job_id)
    return requeued


def visible_job(actor: User, job_id: str) -> Job:
    """A job as ``actor`` may see (and cancel) it: staff see all; others the jobs they started or that concern
    materials they uploaded."""
    from backend.models import Material

    job = get_job(job_id)
    if actor.has_role("editor", "archivist", "admin") or job.created_by_id == actor.id:
        return job
    material = db.session.get(Material, job.material_id) if job.material_id else None
    if material is not None and material.collector_id == actor.id:
        return job
    raise NotFound("任务不存在", code="job_not_found")
