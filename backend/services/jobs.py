"""Job records: submitting (the queue message is sent when the submitting unit of work commits), reading, cancelling,
finding jobs whose worker died, and the exceptions a job handler raises. The runner is ``backend.jobs.runner``.

A job is a row first and a queue message second: the row says what must happen and what did happen. A worker that
dies mid-job leaves the row ``running`` with a stale heartbeat; ``requeue_stale`` puts such jobs back in the queue,
so they run again, and handlers are written to be idempotent (no duplicate derivatives or transcripts).
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Generator

from flask import current_app
from sqlalchemy import select

from backend import transaction
from backend.errors import Conflict, NotFound
from backend.extensions import db, queue
from backend.models import Job, User
from backend.models.types import utcnow
from backend.services import policy

log = logging.getLogger(__name__)
FINAL_STATES = ("succeeded", "failed", "cancelled")
RUN_TASK = "run_job"
_JOB_ID = re.compile(r"[0-9A-Za-z_-]{1,32}")  # submit() makes uuid4().hex; anything else is no job


class JobCancelled(Exception):
    """Raised inside a handler (through the progress callback) when someone cancelled the job."""


class PermanentFailure(Exception):
    """A failure that another attempt cannot fix (corrupt input): the job fails at once, with this reason."""


Progress = Callable[[float], None]


@dataclass(frozen=True)
class JobHandler:
    """What a job kind does: ``run`` does the work in the job's unit of work (reading while it computes, writing at
    the end), or ``steps`` does it in several; ``on_start`` marks what the job is working on, committed before the
    work; ``on_failure`` records the final failure (after the work was rolled back)."""

    run: Callable[[Job, Progress], dict[str, Any] | None] | None = None
    on_start: Callable[[Job], None] | None = None
    on_failure: Callable[[Job, str], None] | None = None
    # A job too long for one transaction (a bulk import): a generator whose every ``yield`` (of the progress
    # percentage) is a commit point, so a later attempt resumes after what was committed. Its return value is
    # the job's result. Used instead of ``run``.
    steps: Callable[[Job], Generator[float, None, dict[str, Any] | None]] | None = None
    # Called when a job ends cancelled (after its uncommitted step was rolled back).
    on_cancel: Callable[[Job], None] | None = None


def _send(job_id: str) -> None:
    queue.enqueue(RUN_TASK, job_id)


def submit(kind: str, *, material_id: int | None = None, params: dict[str, Any] | None = None,
           actor: User | None = None, max_attempts: int = 3) -> Job:
    """Record a job in the caller's unit of work; its queue message goes out when that commits."""
    job = Job(id=uuid.uuid4().hex, kind=kind, material_id=material_id, params=params or {},
              created_by_id=actor.id if actor else None, max_attempts=max_attempts, status="queued",
              progress=0.0, attempts=0, cancel_requested=False)
    db.session.add(job)
    db.session.flush()
    send_after_commit(job.id)
    return job


def send_after_commit(job_id: str) -> None:
    transaction.on_commit(lambda: _send(job_id))


def get_job(job_id: str) -> Job:
    job = db.session.get(Job, job_id) if _JOB_ID.fullmatch(job_id) else None
    if job is None:
        raise NotFound("任务不存在", code="job_not_found")
    return job


def cancel(job: Job) -> Job:
    if job.status in FINAL_STATES:
        raise Conflict("任务已结束，不能取消", code="job_finished", details={"status": job.status})
    job.cancel_requested = True
    if job.status == "queued":
        job.status, job.finished_at, job.error = "cancelled", utcnow(), "已取消"
    db.session.flush()
    return job


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
        send_after_commit(job.id)
    db.session.flush()
    return requeued


def visible_job(actor: User, job_id: str) -> Job:
    """A job as ``actor`` may see (and cancel) it: staff see all; others the jobs they started or that concern
    materials they uploaded."""
    job = get_job(job_id)
    if not policy.can_view_job(actor, job):
        raise NotFound("任务不存在", code="job_not_found")
    return job
