"""Health endpoint for load balancers and docker-compose health checks (no login)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import text

from backend.extensions import db

blp = Blueprint("health", __name__, url_prefix="/api", description="运行状态 / Health")


@blp.route("/health", methods=["GET"])
@blp.response(200)
@blp.doc(security=[])
def health() -> dict[str, Any]:
    """Answers 200 when the API runs and its database answers."""
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}
