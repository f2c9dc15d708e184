"""Task definitions: each passes ids to a service, as one unit of work; job handlers are registered here by kind."""

from __future__ import annotations

from flask import Flask

from backend import transaction
from backend.jobs import runner
from backend.task_queue import TaskQueue
from backend.services import (housekeeping, imports, jobs, material_text, materials, packages, processing,
                              redactions, search_index, transcripts, uploads)
from backend.services.jobs import JobHandler

HANDLERS: dict[str, JobHandler] = {
    "process_material": processing.PROCESS_MATERIAL,
    "transcribe": transcripts.TRANSCRIBE,
    "render_public_proxy": redactions.RENDER_PUBLIC_PROXY,
    material_text.OCR_JOB: material_text.OCR_MATERIAL,
    packages.BUILD_KIND: packages.BUILD_PACKAGE,
    "import": imports.RUN_IMPORT,
}


def run_job(job_id: str) -> None:
    runner.run(job_id, HANDLERS)


def purge_expired_records() -> None:
    with transaction.atomic():
        housekeeping.purge_expired()


def requeue_stale_jobs() -> None:
    with transaction.atomic():
        jobs.requeue_stale()


def check_fixity() -> None:
    with transaction.atomic():
        materials.check_fixity()


def refresh_search_statistics() -> None:
    with transaction.atomic():
        search_index.refresh_statistics()


def purge_expired_uploads() -> None:
    with transaction.atomic():
        uploads.purge_expired_uploads()


def register(queue: TaskQueue, app: Flask) -> None:
    queue.task(app, run_job)
    queue.periodic(app, purge_expired_records, minute="17")
    queue.periodic(app, requeue_stale_jobs, minute="*")
    queue.periodic(app, purge_expired_uploads, minute="*/15")
    queue.periodic(app, check_fixity, minute="40", hour="3", day_of_week="0")
    queue.periodic(app, refresh_search_statistics, minute="10", hour="2")
