"""档号 (archival reference codes): given when a profile or an interview is first approved, from the configured
pattern, one after another in each series, never changed (returned, approved again, withdrawn, edited) and found by
the list filters and the name search; on SQLite and PostgreSQL (the counter row's lock)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import docx
import pytest

from backend.extensions import db
from backend.models import Material
from tests.api.helpers import advance, assert_error, if_match, make_person
from tests.review.helpers import make_transcript, set_state, user_id

pytestmark = pytest.mark.both_databases  # the counter: INSERT … ON CONFLICT, SELECT … FOR UPDATE, byte-order ranges

YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year


def approve(client: Any, auth: Any, person_id: int) -> dict[str, Any]:
    advance(client, person_id, auth("collector"), "submit")
    return advance(client, person_id, auth("archivist"), "approve")


def test_first_approval_gives_the_next_code_of_the_series_and_it_never_changes(client, auth):
    first = make_person(client, auth("collector"), name="王秀英")
    second = make_person(client, auth("collector"), name="李大山")
    assert first["archival_code"] is None
    advance(client, first["id"], auth("collector"), "submit")
    assert client.get(f"/api/v1/persons/{first['id']}", headers=auth("editor")).get_json()["archival_code"] is None

    approved = advance(client, first["id"], auth("archivist"), "approve")
    assert approved["archival_code"] == f"LYG-RW-{YEAR}-0001"
    assert approve(client, auth, second["id"])["archival_code"] == f"LYG-RW-{YEAR}-0002"

    # returned, resubmitted, approved again, edited by an archivist, published, withdrawn: the same code
    url = f"/api/v1/persons/{first['id']}"
    advance(client, first["id"], auth("archivist"), "return")
    advance(client, first["id"], auth("collector"), "submit")
    assert advance(client, first["id"], auth("archivist"), "approve")["archival_code"] == f"LYG-RW-{YEAR}-0001"
    edited = client.patch(url, json={"occupation": "渔民"}, headers=if_match(client, url, auth("archivist")))
    assert edited.status_code == 200 and edited.get_json()["archival_code"] == f"LYG-RW-{YEAR}-0001"
    advance(client, first["id"], auth("archivist"), "publish")
    withdrawn = advance(client, first["id"], auth("archivist"), "withdraw")
    assert withdrawn["status"] == "withdrawn" and withdrawn["archival_code"] == f"LYG-RW-{YEAR}-0001"

    # a code is no field anyone may write
    refused = client.patch(f"/api/v1/persons/{second['id']}", json={"archival_code": "X-1"},
                           headers=if_match(client, f"/api/v1/persons/{second['id']}", auth("archivist")))
    assert_error(refused, 422)
    third = make_person(client, auth("collector"), name="赵三")
    assert approve(client, auth, third["id"])["archival_code"] == f"LYG-RW-{YEAR}-0003", "no number reused"

    audit = client.get(f"/api/v1/audit?entity_type=person&entity_id={first['id']}",
                       headers=auth("archivist")).get_json()["items"]
    coded = [event for event in audit if "archival_code" in event["changes"]]
    assert [event["action"] for event in coded] == ["approve"], "the first approval, and only it, gave the code"
    assert coded[0]["changes"]["archival_code"]["after"] == f"LYG-RW-{YEAR}-0001"


def test_codes_are_found_by_filter_and_search_and_shown_to_the_public(client, auth):
    ids = [make_person(client, auth("collector"), name=name)["id"] for name in ("陈一", "陈二", "陈三")]
    for person_id in ids[:2]:
        approve(client, auth, person_id)
    listed = client.get(f"/api/v1/persons?archival_code=LYG-RW-{YEAR}-0002", headers=auth("editor")).get_json()
    assert [p["id"] for p in listed["items"]] == [ids[1]]
    series = client.get(f"/api/v1/persons?archival_code=LYG-RW-{YEAR}&sort=created", headers=auth("editor"))
    assert [p["id"] for p in series.get_json()["items"]] == ids[:2]
    assert client.get("/api/v1/persons?archival_code=LYG-KS", headers=auth("editor")).get_json()["total"] == 0
    found = client.get(f"/api/v1/persons?q=lyg-rw-{YEAR}-0001", headers=auth("editor")).get_json()
    assert [p["id"] for p in found["items"]] == [ids[0]]
    # a collector's filter never shows someone else's unpublished profile
    assert client.get(f"/api/v1/persons?archival_code=LYG-RW", headers=auth("other_collector")
                      ).get_json()["total"] == 0

    advance(client, ids[0], auth("archivist"), "publish")
    public = client.get(f"/api/public/persons/{ids[0]}").get_json()
    assert public["archival_code"] == f"LYG-RW-{YEAR}-0001"
    assert client.get("/api/public/persons").get_json()["items"][0]["archival_code"] == f"LYG-RW-{YEAR}-0001"


def test_series_per_category_and_a_configured_pattern(app, client, auth):
    app.config["ARCHIVAL_SERIES"] = {"person": "RW", "interview": "KS", "person.notable": "MJ"}
    app.config["ARCHIVAL_CODE_PATTERN"] = "{fonds}·{series}·{year}·{seq:03d}"
    app.config["ARCHIVAL_FONDS"] = "J001"
    notable = make_person(client, auth("collector"), name="剪纸艺人", category="notable")
    good = make_person(client, auth("collector"), name="好人", category="good_person")
    notable_2 = make_person(client, auth("collector"), name="书法家", category="notable")
    assert approve(client, auth, notable["id"])["archival_code"] == f"J001·MJ·{YEAR}·001"
    assert approve(client, auth, good["id"])["archival_code"] == f"J001·RW·{YEAR}·001"
    assert approve(client, auth, notable_2["id"])["archival_code"] == f"J001·MJ·{YEAR}·002"


def test_an_interview_is_coded_when_approved_directly_or_with_its_first_transcript(app, client, auth):
    person = make_person(client, auth("collector"), name="王秀英")
    made = client.post("/api/v1/interviews", json={"title": "新坝镇口述", "interviewee_ids": [person["id"]]},
                       headers=auth("collector"))
    direct = client.post("/api/v1/interviews", json={"title": "第二次访谈"}, headers=auth("collector")).get_json()
    interview = made.get_json()
    assert interview["archival_code"] is None and interview["approved_at"] is None

    # approving a transcript of one of its recordings approves the interview
    transcript_id = make_transcript(app, user_id(client, auth("collector")))
    with app.app_context():
        material = db.session.get(Material, client.get(f"/api/v1/transcripts/{transcript_id}",
                                                       headers=auth("editor")).get_json()["material_id"])
        material.interview_id = interview["id"]
        db.session.commit()
    set_state(app, transcript_id, "reviewed", reviewed_by=user_id(client, auth("editor")))
    before = client.get(f"/api/v1/interviews/{interview['id']}", headers=auth("collector"))
    response = client.post(f"/api/v1/transcripts/{transcript_id}/approve",
                           headers=if_match(client, f"/api/v1/transcripts/{transcript_id}", auth("archivist")))
    assert response.status_code == 200, response.get_json()
    after = client.get(f"/api/v1/interviews/{interview['id']}", headers=auth("collector"))
    assert after.get_json()["archival_code"] == f"LYG-KS-{YEAR}-0001"
    assert after.get_json()["approved_at"] is not None
    assert after.headers["ETag"] != before.headers["ETag"], "what its GET shows changed"
    # the transcript's exports carry the interview's 档号
    exported = client.get(f"/api/v1/transcripts/{transcript_id}/export?format=json", headers=auth("editor"))
    assert f"LYG-KS-{YEAR}-0001" in exported.get_data(as_text=True)
    document = docx.Document(io.BytesIO(client.get(f"/api/v1/transcripts/{transcript_id}/export?format=docx",
                                                   headers=auth("editor")).data))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    assert "档号" in cells and f"LYG-KS-{YEAR}-0001" in cells

    # approved directly by an archivist (If-Match), once
    url = f"/api/v1/interviews/{direct['id']}"
    assert_error(client.post(f"{url}/approve", headers=if_match(client, url, auth("editor"))), 403)
    assert_error(client.post(f"{url}/approve", headers=auth("archivist")), 428)
    approved = client.post(f"{url}/approve", headers=if_match(client, url, auth("archivist")))
    assert approved.status_code == 200 and approved.get_json()["archival_code"] == f"LYG-KS-{YEAR}-0002"
    assert_error(client.post(f"{url}/approve", headers=if_match(client, url, auth("archivist"))), 409,
                 "invalid_transition")
    # an archived interview is not deleted; the list filter finds it
    assert_error(client.delete(url, headers=auth("admin")), 409, "interview_archived")
    listed = client.get(f"/api/v1/interviews?archival_code=LYG-KS-{YEAR}-0002", headers=auth("editor")).get_json()
    assert [i["id"] for i in listed["items"]] == [direct["id"]]
    # another transcript approved later changes nothing
    assert client.get(url, headers=auth("collector")).get_json()["archival_code"] == f"LYG-KS-{YEAR}-0002"


def test_backfill_codes_approved_records_in_approval_order(app, client, auth, runner):
    ids = [make_person(client, auth("collector"), name=f"旧档{i}")["id"] for i in range(3)]
    for person_id in ids:
        approve(client, auth, person_id)
    from backend.models import Person

    with app.app_context():  # as a database from before 档号 held them
        for person in db.session.scalars(db.select(Person)):
            person.archival_code = None
        db.session.execute(db.text("DELETE FROM archival_counters"))
        db.session.commit()
    result = runner.invoke(args=["archival-codes", "assign-missing"])
    assert result.exit_code == 0, result.output
    assert "3 codes assigned" in result.output
    codes = [client.get(f"/api/v1/persons/{pid}", headers=auth("editor")).get_json()["archival_code"] for pid in ids]
    assert codes == [f"LYG-RW-{YEAR}-{n:04d}" for n in (1, 2, 3)]
    found = client.get(f"/api/v1/persons?q=LYG-RW-{YEAR}-0003", headers=auth("editor")).get_json()
    assert [p["id"] for p in found["items"]] == [ids[2]], "a backfilled code is searchable too"
    assert "0 codes assigned" in runner.invoke(args=["archival-codes", "assign-missing"]).output
