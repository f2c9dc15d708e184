"""Background job endpoints: status, progress and cancellation."""

from __future__ import annotations

from typing import Any

from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from backend.api.base import login_required
from backend.schemas.materials import JobSchema
from backend.services import jobs as job_service

blp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs", description="后台任务 / Background jobs")


@blp.route("/<job_id>", methods=["GET"])
@blp.response(200, JobSchema)
@login_required()
def get_job(job_id: str) -> Any:
    """State of a job: queued, running (with progress percent), succeeded, failed (with reason) or cancelled."""
    return job_service.visible_job(current_user, job_id)


@blp.route("/<job_id>/cancel", methods=["POST"])
@blp.response(200, JobSchema)
@blp.alt_response(409, description="The job already ended")
@login_required()
def cancel_job(job_id: str) -> Any:
    """Ask a queued or running job to stop."""
    return job_service.cancel(job_service.visible_job(current_user, job_id))
