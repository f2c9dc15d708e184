"""Programme statistics over a known archive, on SQLite and PostgreSQL: profiles, hours, materials, collectors and
the monthly series (months in China time)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from backend.extensions import db
from backend.models import Material, Person, Transcript
from backend.models.types import utcnow
from tests.api.helpers import assert_error

pytestmark = pytest.mark.both_databases  # statistics SQL differs per engine (month grouping, sums)

CHINA = timezone(timedelta(hours=8))


def _month(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m")


@pytest.fixture
def known_archive(app, users) -> dict[str, Any]:
    now = utcnow()
    local = now.astimezone(CHINA)
    month_start = datetime(local.year, local.month, 1, 0, 30, tzinfo=CHINA)  # still last month in UTC
    collector, other = users["collector"], users["other_collector"]
    with app.app_context():
        for category, status, district, creator in (("good_person", "published", "连云区", collector),
                                                    ("good_person", "draft", "连云区", collector),
                                                    ("notable", "approved", "海州区", collector),
                                                    ("local_worthy", "submitted", None, other)):
            db.session.add(Person(category=category, status=status, name="人物", area_district=district,
                                  created_by_id=creator, aliases=[], honours=[]))

        def material(kind: str, owner: int, created: datetime, seconds: float | None, *transcripts: str,
                     status: str = "ready") -> None:
            digest = uuid.uuid4().hex * 2
            row = Material(kind=kind, status=status, mime="application/octet-stream", size=1, sha256=digest,
                           storage_key=f"originals/{digest}", collector_id=owner, access_level="restricted",
                           media_info={} if seconds is None else {"duration": seconds}, created_at=created)
            db.session.add(row)
            db.session.flush()
            for transcript_status in transcripts:
                db.session.add(Transcript(material_id=row.id, engine="faster-whisper", model="base",
                                          status=transcript_status))

        material("audio", collector, now - timedelta(minutes=1), 1800.0, "approved")
        material("video", collector, now - timedelta(days=40), 3600.0, "machine", "reviewed")
        material("audio", other, now - timedelta(days=3 * 365), 900.0, "machine")
        material("image", collector, now - timedelta(minutes=2), None)
        material("audio", other, min(month_start, now), None, status="failed")
        material("document", other, now - timedelta(days=3 * 365), None)
        db.session.commit()
    return {"now": now, "forty_days_ago": _month(now - timedelta(days=40))}


def test_stats_on_a_known_archive(client, auth, users, known_archive):
    response = client.get("/api/v1/stats", headers=auth("archivist"))
    assert response.status_code == 200, response.get_json()
    stats = response.get_json()
    assert stats["persons"] == {
        "total": 4,
        "by_category": {"good_person": 2, "local_worthy": 1, "notable": 1},
        "by_status": {"approved": 1, "draft": 1, "published": 1, "submitted": 1},
        "by_area": [{"district": "连云区", "count": 2}, {"district": "海州区", "count": 1},
                    {"district": None, "count": 1}],
    }
    assert stats["hours"] == {"collected": 1.75, "transcribed": 1.75, "reviewed": 1.5, "approved": 0.5}
    assert stats["materials"] == {
        "total": 6, "by_kind": {"audio": 3, "document": 1, "image": 1, "video": 1},
        "by_status": {"failed": 1, "ready": 5}, "by_access_level": {"restricted": 6}}
    assert [{k: row[k] for k in ("user_id", "username", "materials", "hours", "persons_created")}
            for row in stats["collectors"]] == [
        {"user_id": users["collector"], "username": "collector", "materials": 3, "hours": 1.5, "persons_created": 3},
        {"user_id": users["other_collector"], "username": "other-collector", "materials": 3, "hours": 0.25,
         "persons_created": 1}]

    monthly = stats["monthly"]
    assert len(monthly) == 24 and monthly[-1]["month"] == _month(known_archive["now"])
    assert [m["month"] for m in monthly] == sorted(m["month"] for m in monthly)
    by_month = {m["month"]: m for m in monthly}
    assert by_month[_month(known_archive["now"])] == {"month": _month(known_archive["now"]), "materials": 3,
                                                       "hours": 0.5}
    assert by_month[known_archive["forty_days_ago"]] == {"month": known_archive["forty_days_ago"], "materials": 1,
                                                          "hours": 1.0}
    assert sum(m["materials"] for m in monthly) == 4  # the two from three years ago are outside the series

    short = client.get("/api/v1/stats?months=2", headers=auth("admin")).get_json()["monthly"]
    assert [m["month"] for m in short] == [m["month"] for m in monthly[-2:]]
    assert_error(client.get("/api/v1/stats?months=0", headers=auth("admin")), 422)


def test_stats_of_an_empty_archive(client, auth):
    stats = client.get("/api/v1/stats", headers=auth("admin")).get_json()
    assert stats["persons"]["total"] == 0 and stats["materials"]["total"] == 0 and stats["collectors"] == []
    assert stats["hours"] == {"collected": 0.0, "transcribed": 0.0, "reviewed": 0.0, "approved": 0.0}
    assert all(m["materials"] == 0 and m["hours"] == 0.0 for m in stats["monthly"])


def test_hours_per_month_collected_transcribed_reviewed_and_approved(client, auth, app, users):
    now = utcnow()
    earlier, much_earlier = now - timedelta(days=40), now - timedelta(days=75)
    with app.app_context():
        def material(kind: str, created: datetime, seconds: float | None) -> Material:
            digest = uuid.uuid4().hex * 2
            row = Material(kind=kind, status="ready", mime="application/octet-stream", size=1, sha256=digest,
                           storage_key=f"originals/{digest}", collector_id=users["collector"],
                           access_level="restricted", media_info={} if seconds is None else {"duration": seconds},
                           created_at=created)
            db.session.add(row)
            db.session.flush()
            return row

        def transcript(of: Material, created: datetime, reviewed: datetime | None = None,
                       approved: datetime | None = None) -> None:
            db.session.add(Transcript(material_id=of.id, engine="faster-whisper", model="base", created_at=created,
                                      reviewed_at=reviewed, approved_at=approved,
                                      status="approved" if approved else "reviewed" if reviewed else "machine"))

        old = material("video", much_earlier, 3600.0)  # transcribed twice: counts once, in its first month
        transcript(old, much_earlier, reviewed=earlier, approved=now)
        transcript(old, earlier)
        recent = material("audio", earlier, 1800.0)
        transcript(recent, now, reviewed=now)
        photo = material("image", now, None)
        transcript(photo, now, reviewed=now, approved=now)  # no duration: no hours
        db.session.commit()

    stats = client.get("/api/v1/stats?months=6", headers=auth("archivist")).get_json()
    series = stats["hours_by_month"]
    assert [row["month"] for row in series] == [row["month"] for row in stats["monthly"]]
    expected = {row["month"]: {"month": row["month"], "collected": 0.0, "transcribed": 0.0, "reviewed": 0.0,
                               "approved": 0.0} for row in series}
    for moment, column, hours in ((much_earlier, "collected", 1.0), (much_earlier, "transcribed", 1.0),
                                  (earlier, "reviewed", 1.0), (now, "approved", 1.0),
                                  (earlier, "collected", 0.5), (now, "transcribed", 0.5), (now, "reviewed", 0.5)):
        expected[_month(moment)][column] += hours
    assert series == list(expected.values())
    assert sum(row["transcribed"] for row in series) == stats["hours"]["transcribed"] == 1.5
    assert sum(row["approved"] for row in series) == stats["hours"]["approved"] == 1.0
