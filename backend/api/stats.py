"""Programme statistics endpoint: profiles, hours recorded and transcribed, materials, collectors, months."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from backend.services.policy import Permission
from backend.api.base import login_required
from backend.schemas.public import StatsArgsSchema, StatsSchema
from backend.services import stats as stats_service

blp = Blueprint("stats", __name__, url_prefix="/api/v1/stats", description="统计 / Programme statistics")


@blp.route("", methods=["GET"])
@blp.arguments(StatsArgsSchema, location="query")
@blp.response(200, StatsSchema)
@login_required(Permission.STATS_READ)
def get_stats(args: dict[str, Any]) -> dict[str, Any]:
    """Counts and hours for the programme's reports (archivists and admins: it names each collector's output)."""
    return stats_service.programme_stats(months=args["months"])
