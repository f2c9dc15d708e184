"""Consents (授权书): who records and withdraws them, validation of what is recorded, and their audit trail."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.api.helpers import advance, assert_error, if_match, make_person, upload_png


@pytest.fixture
def app(sqlite_app):  # rules and validation do not depend on the database; test_publication runs on both
    return sqlite_app


def consent_body(material_id: int, **fields: Any) -> dict[str, Any]:
    return {"scope": "public", "signed_at": "2024-05-01", "material_id": material_id, **fields}


def record(client, headers, person_id: int, body: dict[str, Any]):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/persons/{person_id}/consents", json=body, headers=headers)


def audit_of(client, auth, entity_type: str, entity_id: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    events = client.get(f"/api/v1/audit?entity_type={entity_type}&entity_id={entity_id}&per_page=100",
                        headers=auth("archivist")).get_json()["items"]
    return list(reversed(events))


def test_collector_records_the_form_collected_in_the_field(client, auth, users):
    person = make_person(client, auth("collector"), name="王秀英")
    form = upload_png(client, auth("collector"), person["id"], 1, title="授权书扫描件")
    response = record(client, auth("collector"), person["id"],
                      consent_body(form["id"], conditions=" 不公开家庭住址 "))
    assert response.status_code == 201, response.get_json()
    consent = response.get_json()
    assert consent["person_id"] == person["id"] and consent["scope"] == "public"
    assert consent["signed_at"] == "2024-05-01" and consent["material_id"] == form["id"]
    assert consent["interview_id"] is None and consent["conditions"] == "不公开家庭住址"
    assert consent["active"] is True and consent["withdrawn_at"] is None
    assert consent["created_by"] == users["collector"]

    events = audit_of(client, auth, "consent", consent["id"])
    assert [e["action"] for e in events] == ["create"]
    assert events[0]["actor_id"] == users["collector"]
    assert events[0]["changes"]["scope"] == {"before": None, "after": "public"}
    assert events[0]["changes"]["person_id"] == {"before": None, "after": person["id"]}
    assert events[0]["changes"]["signed_at"] == {"before": None, "after": "2024-05-01"}
    # the profile's own trail records changes to the profile only
    assert [e["action"] for e in audit_of(client, auth, "person", person["id"])] == ["create"]


def test_list_newest_first_with_withdrawn_ones_for_whoever_sees_the_person(client, auth):
    person = make_person(client, auth("collector"))
    form = upload_png(client, auth("collector"), person["id"], 1)
    first = record(client, auth("collector"), person["id"], consent_body(form["id"], scope="archive_only")).get_json()
    second = record(client, auth("archivist"), person["id"], consent_body(form["id"], scope="research")).get_json()
    withdrawn = client.post(f"/api/v1/persons/{person['id']}/consents/{first['id']}/withdraw",
                            headers=auth("archivist"))
    assert withdrawn.status_code == 200
    for role in ("collector", "editor", "archivist", "admin"):
        listing = client.get(f"/api/v1/persons/{person['id']}/consents", headers=auth(role))
        assert listing.status_code == 200, role
        body = listing.get_json()
        assert body["total"] == 2 and body["page"] == 1
        assert [(c["id"], c["active"]) for c in body["items"]] == [(second["id"], True), (first["id"], False)]
    assert_error(client.get(f"/api/v1/persons/{person['id']}/consents", headers=auth("other_collector")), 404,
                 "person_not_found")
    paged = client.get(f"/api/v1/persons/{person['id']}/consents?per_page=1&page=2", headers=auth("editor"))
    assert [c["id"] for c in paged.get_json()["items"]] == [first["id"]]


def test_who_may_record(client, auth):
    person = make_person(client, auth("collector"))
    form = upload_png(client, auth("editor"), person["id"], 1)  # staff upload: every staff member sees it
    assert_error(record(client, auth("editor"), person["id"], consent_body(form["id"])), 403, "consent_forbidden")
    assert_error(record(client, auth("other_collector"), person["id"], consent_body(form["id"])), 404,
                 "person_not_found")
    assert record(client, auth("archivist"), person["id"], consent_body(form["id"])).status_code == 201
    assert record(client, auth("admin"), person["id"], consent_body(form["id"])).status_code == 201
    # another collector may see a published profile, but did not collect its consent
    advance(client, person["id"], auth("collector"), "submit")
    advance(client, person["id"], auth("archivist"), "approve", "publish")
    own_form = upload_png(client, auth("other_collector"), person["id"], 2)
    assert_error(record(client, auth("other_collector"), person["id"], consent_body(own_form["id"])), 403,
                 "consent_forbidden")


def test_validation_of_what_is_recorded(client, auth):
    from backend.services.consents import archive_today

    person = make_person(client, auth("collector"))
    pid = person["id"]
    form = upload_png(client, auth("collector"), pid, 1)
    others_form = upload_png(client, auth("other_collector"), pid, 2)  # restricted, not the collector's
    headers = auth("collector")

    tomorrow = (archive_today() + timedelta(days=1)).isoformat()
    error = assert_error(record(client, headers, pid, consent_body(form["id"], signed_at=tomorrow)), 422,
                         "invalid_consent")
    assert "signed_at" in error["details"]["fields"]
    today = archive_today().isoformat()
    assert record(client, headers, pid, consent_body(form["id"], signed_at=today)).status_code == 201

    error = assert_error(record(client, headers, pid, consent_body(form["id"], scope="everything")), 422,
                         "validation_error")
    assert "scope" in error["details"]["fields"]
    error = assert_error(record(client, headers, pid, consent_body(form["id"], signed_at="2024-02-30")), 422)
    assert "signed_at" in error["details"]["fields"]
    error = assert_error(record(client, headers, pid, {"scope": "public", "signed_at": "2024-05-01"}), 422)
    assert "material_id" in error["details"]["fields"]
    error = assert_error(record(client, headers, pid, {**consent_body(form["id"]), "material_id": "1"}), 422)
    assert "material_id" in error["details"]["fields"]
    error = assert_error(record(client, headers, pid, consent_body(form["id"], status="signed")), 422)
    assert "status" in error["details"]["fields"]

    for material_id in (others_form["id"], 999_999):
        error = assert_error(record(client, headers, pid, consent_body(material_id)), 422, "unknown_material")
        assert "material_id" in error["details"]["fields"]
    assert_error(record(client, headers, 999_999, consent_body(form["id"])), 404, "person_not_found")

    # only today's consent was stored
    listing = client.get(f"/api/v1/persons/{pid}/consents", headers=headers).get_json()
    assert [c["signed_at"] for c in listing["items"]] == [today]


def test_consent_for_one_interview(client, auth):
    person = make_person(client, auth("collector"))
    other = make_person(client, auth("collector"), name="李四")
    form = upload_png(client, auth("collector"), person["id"], 1)
    headers = auth("collector")
    with_person = client.post("/api/v1/interviews", json={"title": "渔村记忆", "interviewee_ids": [person["id"]]},
                              headers=headers).get_json()
    without = client.post("/api/v1/interviews", json={"title": "别的访谈", "interviewee_ids": [other["id"]]},
                          headers=headers).get_json()
    not_mine = client.post("/api/v1/interviews", json={"title": "别人的访谈"},
                           headers=auth("other_collector")).get_json()

    assert_error(record(client, headers, person["id"], consent_body(form["id"], interview_id=not_mine["id"])), 422,
                 "unknown_interview")
    assert_error(record(client, headers, person["id"], consent_body(form["id"], interview_id=999_999)), 422,
                 "unknown_interview")
    assert_error(record(client, headers, person["id"], consent_body(form["id"], interview_id=without["id"])), 422,
                 "interview_not_of_person")
    response = record(client, headers, person["id"], consent_body(form["id"], interview_id=with_person["id"]))
    assert response.status_code == 201 and response.get_json()["interview_id"] == with_person["id"]


def test_withdraw_rules_and_audit(client, auth, users):
    person = make_person(client, auth("collector"))
    pid = person["id"]
    form = upload_png(client, auth("collector"), pid, 1)
    consent = record(client, auth("collector"), pid, consent_body(form["id"])).get_json()
    url = f"/api/v1/persons/{pid}/consents/{consent['id']}/withdraw"

    assert_error(client.post(url, headers=auth("collector")), 403, "consent_forbidden")
    assert_error(client.post(url, headers=auth("editor")), 403, "consent_forbidden")
    assert_error(client.post(url, headers=auth("other_collector")), 404, "person_not_found")
    assert_error(client.post(url, json={"reason": "x", "why": "y"}, headers=auth("archivist")), 422)
    other = make_person(client, auth("collector"), name="李四")
    assert_error(client.post(f"/api/v1/persons/{other['id']}/consents/{consent['id']}/withdraw",
                             headers=auth("archivist")), 404, "consent_not_found")

    response = client.post(url, json={"reason": "本人来电要求撤回"}, headers=auth("archivist"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["active"] is False and body["withdrawn_at"] is not None
    assert body["withdrawn_by"] == users["archivist"] and body["withdraw_reason"] == "本人来电要求撤回"
    assert_error(client.post(url, headers=auth("admin")), 409, "consent_withdrawn")

    events = audit_of(client, auth, "consent", consent["id"])
    assert [e["action"] for e in events] == ["create", "withdraw"]
    assert events[1]["comment"] == "本人来电要求撤回" and events[1]["actor_id"] == users["archivist"]
    # a draft has nothing to unpublish: the profile itself is untouched
    profile = client.get(f"/api/v1/persons/{pid}", headers=auth("collector")).get_json()
    assert profile["status"] == "draft" and profile["version"] == person["version"]


@pytest.mark.parametrize("category, expected", [
    ("good_person", ["gender", "area", "biography", "material", "consent_public"]),
    ("notable", ["gender", "occupation", "birth_date", "biography", "material", "consent_public"]),
    ("local_worthy", ["native_place", "area", "biography", "material", "consent_public"]),
])
def test_checklist_fields_per_category(client, auth, category, expected):
    response = client.post("/api/v1/persons", json={"category": category, "name": "空白档案", "gender": "unknown",
                                                    "biography": "   "}, headers=auth("collector"))
    pid = response.get_json()["id"]
    advance(client, pid, auth("collector"), "submit")
    advance(client, pid, auth("archivist"), "approve")
    url = f"/api/v1/persons/{pid}"
    error = assert_error(client.post(f"{url}/publish", headers=if_match(client, url, auth("archivist"))), 409,
                         "publication_checklist")
    assert error["details"]["missing"] == expected
    assert "发布前还需补充" in error["message"] and "公开授权书" in error["message"]
