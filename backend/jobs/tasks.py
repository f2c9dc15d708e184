"""Task definitions: each one passes ids to a service and lets the service own the work and the transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.services import housekeeping, jobs, materials, uploads
from backend.services import processing, transcripts  # noqa: F401  (register the job handlers)
from backend.services import redactions  # noqa: F401  (registers render_public_proxy)

if TYPE_CHECKING:
    from flask import Flask

    from backend.jobs.queue import TaskQueue


def run_job(job_id: str) -> None:
    jobs.run(job_id)


def purge_expired_records() -> None:
    housekeeping.purge_expired()


def requeue_stale_jobs() -> None:
    jobs.requeue_stale()


def check_fixity() -> None:
    materials.check_fixity()


def purge_expired_uploads() -> None:
    uploads.purge_expired_uploads()


def register(queue: "TaskQueue", app: "Flask") -> None:
    queue.task(app, run_job)
    queue.periodic(app, purge_expired_records, minute="17")
    queue.periodic(app, requeue_stale_jobs, minute="*")
    queue.periodic(app, purge_expired_uploads, minute="*/15")
    queue.periodic(app, check_fixity, minute="40", hour="3", day_of_week="0")
