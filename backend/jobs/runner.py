"""The job runner: one attempt of a job, as two units of work.

1. The claim: ``queued`` → ``running`` by a conditional UPDATE (two workers given the same message cannot both run
   it), attempts + 1, and the handler's ``on_start`` mark; committed, so a crash after it is seen and retried.
2. The work: the handler reads and computes (no autoflush: it holds no write lock while ffmpeg or Whisper run), adds
   its results, and they are committed together with the job's outcome, once. A failure rolls all of it back and
   records the outcome (retry or failure, with the handler's ``on_failure``) instead.

Progress, heartbeat and the cancel flag go over a connection of their own in short transactions of their own, so
they never commit (or wait for) the handler's work.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Mapping

from flask import Flask, current_app
from sqlalchemy import select, update

from backend import transaction
from backend.extensions import db
from backend.models import Job
from backend.models.types import utcnow
from backend.services import jobs
from backend.services.jobs import FINAL_STATES, JobCancelled, JobHandler, PermanentFailure

log = logging.getLogger(__name__)
HEARTBEAT_EVERY = 10.0
PROGRESS_EVERY = 1.0


class _Heartbeat:
    """Touches the job's heartbeat from a side thread while a long step (ffmpeg, model load) runs."""

    def __init__(self, app: Flask, job_id: str) -> None:
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
                try:
                    with db.engine.begin() as connection:
                        connection.execute(update(Job).where(Job.id == self._job_id, Job.status == "running")
                                           .values(heartbeat_at=utcnow()))
                except Exception:  # noqa: BLE001 - a missed beat only makes the job look stale sooner
                    log.warning("heartbeat of job %s failed", self._job_id, exc_info=True)


class _Progress:
    """The handler's progress callback: records the percentage (at most once a second) and stops the handler with
    JobCancelled once someone asked to cancel."""

    def __init__(self, job_id: str) -> None:
        self._job_id = job_id
        self._last = 0.0
        self._percent = 0.0

    def __call__(self, percent: float) -> None:
        self._percent = round(max(self._percent, min(100.0, percent)), 1)
        now = time.monotonic()
        if now - self._last < PROGRESS_EVERY and percent < 100:
            return
        self._last = now
        with db.engine.begin() as connection:
            if connection.scalar(select(Job.cancel_requested).where(Job.id == self._job_id)):
                raise JobCancelled()
            connection.execute(update(Job).where(Job.id == self._job_id)
                               .values(progress=self._percent, heartbeat_at=utcnow()))


def _claim(job_id: str, handlers: Mapping[str, JobHandler]) -> JobHandler | None:
    """Take the job for this worker (queued → running); its handler, or None when there is nothing to run."""
    with transaction.atomic():
        job = db.session.get(Job, job_id)
        if job is None or job.status in FINAL_STATES:
            return None
        if job.cancel_requested:
            job.status, job.finished_at, job.error = "cancelled", utcnow(), "已取消"
            return None
        handler = handlers.get(job.kind)
        if handler is None:
            job.status, job.finished_at, job.error = "failed", utcnow(), f"unknown job kind {job.kind!r}"
            return None
        now = utcnow()
        claimed = db.session.execute(
            update(Job).where(Job.id == job_id, Job.status == "queued")
            .values(status="running", attempts=Job.attempts + 1, error=None, started_at=now, heartbeat_at=now)
            .execution_options(synchronize_session=False)).rowcount
        if not claimed:
            return None  # another worker has it, or it is not queued any more
        db.session.refresh(job)
        if handler.on_start is not None:
            handler.on_start(job)
    return handler


def run(job_id: str, handlers: Mapping[str, JobHandler]) -> None:
    """Run one attempt of a job (called by the queue worker)."""
    handler = _claim(job_id, handlers)
    if handler is None:
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        if handler.steps is not None:
            with _Heartbeat(app, job_id):
                _run_steps(job_id, handler)
        else:
            with transaction.atomic(), _Heartbeat(app, job_id):
                job = db.session.get(Job, job_id)
                assert handler.run is not None
                with db.session.no_autoflush:
                    result = handler.run(job, _Progress(job_id))
                job.status, job.progress, job.finished_at, job.result = "succeeded", 100.0, utcnow(), result or {}
    except JobCancelled:
        _finish(job_id, "cancelled", "已取消", handler)
    except PermanentFailure as exc:
        _finish(job_id, "failed", str(exc), handler)
    except Exception as exc:  # noqa: BLE001 - every failure must end in the job row, never vanish
        log.exception("job %s attempt failed", job_id)
        _finish(job_id, "retry", f"{type(exc).__name__}: {exc}", handler)


def _run_steps(job_id: str, handler: JobHandler) -> None:
    """Run a stepwise handler: each step (up to the generator's next ``yield``) is a unit of work of its own,
    committed with the job's progress; a cancel request is seen at the start of the next step."""
    assert handler.steps is not None
    with transaction.atomic():
        steps = handler.steps(db.session.get(Job, job_id))
    while True:
        with transaction.atomic():
            job = db.session.get(Job, job_id, populate_existing=True)
            if job is None:
                steps.close()
                return
            if job.cancel_requested:
                steps.close()
                raise JobCancelled()
            try:
                percent = next(steps)
            except StopIteration as done:
                job.status, job.progress, job.finished_at, job.result = "succeeded", 100.0, utcnow(), done.value or {}
                return
            job.progress, job.heartbeat_at = round(max(job.progress, min(100.0, percent)), 1), utcnow()


def _finish(job_id: str, outcome: str, reason: str, handler: JobHandler | None) -> None:
    """Record how an attempt ended, in a unit of work of its own (the attempt's work was rolled back)."""
    with transaction.atomic():
        job = db.session.get(Job, job_id, populate_existing=True)
        if job is None:
            return
        job.error = reason
        if outcome == "retry" and job.attempts < job.max_attempts:
            job.status = "queued"
            jobs.send_after_commit(job.id)
            return
        job.status, job.finished_at = ("cancelled" if outcome == "cancelled" else "failed"), utcnow()
        if job.status == "failed" and handler is not None and handler.on_failure is not None:
            handler.on_failure(job, reason)
        if job.status == "cancelled" and handler is not None and handler.on_cancel is not None:
            handler.on_cancel(job)
