"""Programme statistics as SQL aggregates that run the same on SQLite and PostgreSQL: profiles, hours of audio and
video collected / transcribed / reviewed / approved, materials, per-collector output and a monthly series."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, case, exists, func, select

from backend.extensions import db
from backend.models import Material, Person, Transcript, User
from backend.models.types import utcnow

# Months are counted in the archive's local time (China Standard Time, no daylight saving).
LOCAL_TIME = timezone(timedelta(hours=8))
LOCAL_TIME_NAME = "Asia/Shanghai"


def _duration() -> ColumnElement[Any]:
    """Seconds of an audio/video material (from ffprobe, in media_info); 0 for others and unknown ones."""
    seconds = Material.media_info["duration"].as_float()
    return case((Material.kind.in_(("audio", "video")), func.coalesce(seconds, 0.0)), else_=0.0)


def _hours(seconds: Any) -> float:
    return round(float(seconds or 0.0) / 3600.0, 3)


def _counts(column: Any, *where: Any) -> dict[str, int]:
    rows = db.session.execute(select(column, func.count()).where(*where).group_by(column).order_by(column)).all()
    return {str(key): int(count) for key, count in rows if key is not None}


def _month_of(column: Any) -> ColumnElement[str]:
    if db.engine.dialect.name == "postgresql":
        return func.to_char(func.timezone(LOCAL_TIME_NAME, column), "YYYY-MM")
    return func.strftime("%Y-%m", column, "+8 hours")


def _month_starts(months: int, now: datetime) -> list[tuple[str, datetime]]:
    """The first instant of each of the last ``months`` local months (oldest first), as (YYYY-MM, UTC time)."""
    local = now.astimezone(LOCAL_TIME)
    year, month = local.year, local.month
    starts = []
    for _ in range(months):
        starts.append((f"{year:04d}-{month:02d}",
                       datetime(year, month, 1, tzinfo=LOCAL_TIME).astimezone(timezone.utc)))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def _transcribed(*statuses: str) -> ColumnElement[bool]:
    where = [Transcript.material_id == Material.id]
    if statuses:
        where.append(Transcript.status.in_(statuses))
    return exists().where(*where)


def programme_stats(*, months: int = 24, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    audio_video = Material.kind.in_(("audio", "video"))

    persons = {
        "total": db.session.scalar(select(func.count()).select_from(Person)) or 0,
        "by_category": _counts(Person.category),
        "by_status": _counts(Person.status),
        # most profiles first; districts not filled in last (sorted here: the databases order NULLs differently)
        "by_area": [{"district": district, "count": int(count)} for district, count in sorted(
            db.session.execute(select(Person.area_district, func.count()).group_by(Person.area_district)).all(),
            key=lambda row: (-row[1], row[0] is None, row[0] or ""))],
    }

    hour_sums = db.session.execute(select(
        func.sum(_duration()),
        func.sum(case((_transcribed(), _duration()), else_=0.0)),
        func.sum(case((_transcribed("reviewed", "approved"), _duration()), else_=0.0)),
        func.sum(case((_transcribed("approved"), _duration()), else_=0.0)),
    ).where(audio_video)).one()
    hours = dict(zip(("collected", "transcribed", "reviewed", "approved"), (_hours(v) for v in hour_sums)))

    materials = {
        "total": db.session.scalar(select(func.count()).select_from(Material)) or 0,
        "by_kind": _counts(Material.kind),
        "by_status": _counts(Material.status),
        "by_access_level": _counts(Material.access_level),
    }

    per_collector: dict[int, dict[str, Any]] = {}
    for user_id, count, seconds in db.session.execute(
            select(Material.collector_id, func.count(), func.sum(_duration())).group_by(Material.collector_id)):
        per_collector[user_id] = {"materials": int(count), "hours": _hours(seconds), "persons_created": 0}
    for user_id, count in db.session.execute(
            select(Person.created_by_id, func.count()).group_by(Person.created_by_id)):
        per_collector.setdefault(user_id, {"materials": 0, "hours": 0.0, "persons_created": 0})
        per_collector[user_id]["persons_created"] = int(count)
    names = {row.id: row for row in db.session.execute(
        select(User.id, User.username, User.display_name).where(User.id.in_(list(per_collector))))} \
        if per_collector else {}
    collectors = sorted(
        ({"user_id": user_id, "username": names[user_id].username if user_id in names else None,
          "display_name": names[user_id].display_name if user_id in names else None, **numbers}
         for user_id, numbers in per_collector.items()),
        key=lambda row: (-row["materials"], -row["persons_created"], row["user_id"]))

    starts = _month_starts(months, now)
    month = _month_of(Material.created_at)
    by_month = {key: (int(count), seconds) for key, count, seconds in db.session.execute(
        select(month, func.count(), func.sum(_duration()))
        .where(Material.created_at >= starts[0][1]).group_by(month))}
    monthly = [{"month": key, "materials": by_month.get(key, (0, 0.0))[0],
                "hours": _hours(by_month.get(key, (0, 0.0))[1])} for key, _start in starts]

    return {"generated_at": now, "persons": persons, "hours": hours, "materials": materials,
            "collectors": collectors, "monthly": monthly, "hours_by_month": _hours_by_month(starts, monthly)}


def _first_time_per_material(column: Any) -> Any:
    """Per material, the earliest ``column`` of its transcripts (when it was first transcribed, reviewed, …)."""
    return (select(Transcript.material_id.label("material_id"), func.min(column).label("at"))
            .where(column.is_not(None)).group_by(Transcript.material_id).subquery())


def _hours_by_month(starts: list[tuple[str, datetime]], monthly: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Hours of audio and video per month: collected (uploaded) then, and first transcribed, reviewed and
    approved then. A material counts once per column, in the month its first transcript reached that step; a
    transcript returned after approval no longer counts as approved."""
    series = {row["month"]: {"month": row["month"], "collected": row["hours"], "transcribed": 0.0,
                             "reviewed": 0.0, "approved": 0.0} for row in monthly}
    for name, column in (("transcribed", Transcript.created_at), ("reviewed", Transcript.reviewed_at),
                         ("approved", Transcript.approved_at)):
        first = _first_time_per_material(column)
        month = _month_of(first.c.at)
        rows = db.session.execute(
            select(month, func.sum(_duration())).select_from(first)
            .join(Material, Material.id == first.c.material_id)
            .where(Material.kind.in_(("audio", "video")), first.c.at >= starts[0][1]).group_by(month))
        for key, seconds in rows:
            if key in series:
                series[key][name] = _hours(seconds)
    return list(series.values())
