"""Publishing needs the checklist (fields, a material, an active public consent); withdrawing that consent
unpublishes the person at once. Runs on SQLite and PostgreSQL: the checks are queries and row locks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import advance, assert_error, if_match, upload_png

pytestmark = pytest.mark.both_databases  # the checklist's queries and row locks (FOR UPDATE)


def publish(client, auth, pid: int):  # type: ignore[no-untyped-def]
    url = f"/api/v1/persons/{pid}"
    return client.post(f"{url}/publish", headers=if_match(client, url, auth("archivist")))


def consent(client, auth, pid: int, material_id: int, **fields: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = client.post(f"/api/v1/persons/{pid}/consents", headers=auth("archivist"),
                           json={"scope": "public", "signed_at": "2024-05-01", "material_id": material_id, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def person_actions(client, auth, pid: int) -> list[str]:  # type: ignore[no-untyped-def]
    events = client.get(f"/api/v1/audit?entity_type=person&entity_id={pid}&per_page=100",
                        headers=auth("archivist")).get_json()["items"]
    return [e["action"] for e in reversed(events)]


def test_publish_is_blocked_until_the_checklist_is_complete(client, auth):
    created = client.post("/api/v1/persons", json={"category": "good_person", "name": "陈阿婆"},
                          headers=auth("collector")).get_json()
    pid = created["id"]
    advance(client, pid, auth("collector"), "submit")
    approved = advance(client, pid, auth("archivist"), "approve")

    error = assert_error(publish(client, auth, pid), 409, "publication_checklist")
    assert error["details"]["missing"] == ["gender", "area", "biography", "material", "consent_public"]
    assert error["message"].startswith("发布前还需补充：性别、所在区县、事迹/生平")
    profile = client.get(f"/api/v1/persons/{pid}", headers=auth("archivist")).get_json()
    assert profile["status"] == "approved" and profile["version"] == approved["version"]
    assert profile["published_at"] is None
    assert "publish" not in person_actions(client, auth, pid)

    fixed = client.patch(f"/api/v1/persons/{pid}", headers=if_match(client, f"/api/v1/persons/{pid}", auth("archivist")), json={
        "gender": "female", "area": {"district": "连云区"}, "biography": "义务照看邻里孩子三十年。"})
    assert fixed.status_code == 200
    assert assert_error(publish(client, auth, pid), 409)["details"]["missing"] == ["material", "consent_public"]

    # the signed form linked to the person is not material about the person; research consent is not public
    form = upload_png(client, auth("collector"), pid, 1, person_id=str(pid), title="授权书")
    consent(client, auth, pid, form["id"], scope="research")
    assert assert_error(publish(client, auth, pid), 409)["details"]["missing"] == ["material", "consent_public"]

    # a public consent for one interview covers that interview, not the whole profile
    interview = client.post("/api/v1/interviews", json={"title": "口述", "interviewee_ids": [pid]},
                            headers=auth("collector")).get_json()
    consent(client, auth, pid, form["id"], interview_id=interview["id"])
    photo = upload_png(client, auth("collector"), pid, 2, person_id=str(pid), title="近照")
    assert assert_error(publish(client, auth, pid), 409)["details"]["missing"] == ["consent_public"]

    # a withdrawn public consent does not count either
    withdrawn = consent(client, auth, pid, form["id"])
    client.post(f"/api/v1/persons/{pid}/consents/{withdrawn['id']}/withdraw", headers=auth("archivist"))
    assert assert_error(publish(client, auth, pid), 409)["details"]["missing"] == ["consent_public"]

    consent(client, auth, pid, form["id"])
    response = publish(client, auth, pid)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "published" and response.get_json()["published_at"]
    assert person_actions(client, auth, pid)[-1] == "publish"
    assert photo["id"] != form["id"]


def test_withdrawing_the_public_consent_unpublishes_at_once(client, auth, app, users):
    from backend.services.policy import has_public_consent

    created = client.post("/api/v1/persons", json={"category": "local_worthy", "name": "周乡贤"},
                          headers=auth("collector")).get_json()
    pid = created["id"]
    advance(client, pid, auth("collector"), "submit")
    published = advance(client, pid, auth("archivist"), "approve", "publish")  # fills fields, photo and consent
    assert published["status"] == "published"
    assert client.get(f"/api/v1/persons/{pid}", headers=auth("other_collector")).status_code == 200
    with app.app_context():
        assert has_public_consent(pid) is True
    public = next(c for c in client.get(f"/api/v1/persons/{pid}/consents", headers=auth("archivist"))
                  .get_json()["items"] if c["scope"] == "public")

    response = client.post(f"/api/v1/persons/{pid}/consents/{public['id']}/withdraw",
                           json={"reason": "家属要求不再公开"}, headers=auth("archivist"))
    assert response.status_code == 200, response.get_json()

    with app.app_context():
        assert has_public_consent(pid) is False
    profile = client.get(f"/api/v1/persons/{pid}", headers=auth("archivist"))
    body = profile.get_json()
    assert body["status"] == "withdrawn" and body["withdrawn_at"] is not None
    assert body["version"] == published["version"] + 1 and profile.headers["ETag"] == f'"{body["version"]}"'
    assert_error(client.get(f"/api/v1/persons/{pid}", headers=auth("other_collector")), 404)

    events = client.get(f"/api/v1/audit?entity_type=person&entity_id={pid}&per_page=100",
                        headers=auth("archivist")).get_json()["items"]
    last = events[0]
    assert last["action"] == "withdraw" and last["actor_id"] == users["archivist"]
    assert last["changes"]["status"] == {"before": "published", "after": "withdrawn"}
    assert f"授权书 #{public['id']}" in last["comment"] and "家属要求不再公开" in last["comment"]
    consent_events = client.get(f"/api/v1/audit?entity_type=consent&entity_id={public['id']}",
                                headers=auth("archivist")).get_json()["items"]
    assert [e["action"] for e in reversed(consent_events)] == ["create", "withdraw"]
    # withdrawn is final: it cannot be published again
    assert_error(publish(client, auth, pid), 409, "invalid_transition")


def test_withdrawing_another_consent_keeps_the_profile_published(client, auth, app):
    from backend.services.policy import has_public_consent

    created = client.post("/api/v1/persons", json={"category": "notable", "name": "吴名家"},
                          headers=auth("collector")).get_json()
    pid = created["id"]
    interview = client.post("/api/v1/interviews", json={"title": "访谈", "interviewee_ids": [pid]},
                            headers=auth("collector")).get_json()
    form = upload_png(client, auth("collector"), pid, 1)
    research = consent(client, auth, pid, form["id"], scope="research")
    for_interview = consent(client, auth, pid, form["id"], interview_id=interview["id"])
    advance(client, pid, auth("collector"), "submit")
    published = advance(client, pid, auth("archivist"), "approve", "publish")
    with app.app_context():
        assert has_public_consent(pid, interview_id=interview["id"]) is True
    for item in (research, for_interview):
        response = client.post(f"/api/v1/persons/{pid}/consents/{item['id']}/withdraw", headers=auth("admin"))
        assert response.status_code == 200
    body = client.get(f"/api/v1/persons/{pid}", headers=auth("archivist")).get_json()
    assert body["status"] == "published" and body["version"] == published["version"]
    with app.app_context():
        assert has_public_consent(pid) is True  # the person-wide public consent still stands


def test_checklist_tells_what_is_missing_before_publishing(client, auth):
    from tests.api.helpers import advance, make_person, make_publishable

    person = make_person(client, auth("collector"), name="周老师", category="notable", biography="")
    advance(client, person["id"], auth("collector"), "submit")
    before = client.get(f"/api/v1/persons/{person['id']}/checklist", headers=auth("archivist")).get_json()
    assert before["publishable"] is False
    assert {"biography", "material", "consent_public"} <= set(before["missing"])
    assert len(before["labels"]) == len(before["missing"])
    make_publishable(client, person["id"], auth("archivist"))
    after = client.get(f"/api/v1/persons/{person['id']}/checklist", headers=auth("archivist")).get_json()
    assert after == {"publishable": True, "missing": [], "labels": []}


def test_deleting_an_interview_withdraws_its_consents_and_never_widens_them(client, auth, app):
    """A public consent signed for one interview covers that interview only: once the interview is deleted it is
    withdrawn, stays interview-scoped (ON DELETE SET NULL clears the id, not the scope), and the profile still
    lacks a person-wide consent — it cannot be published, and the public never sees it."""
    from backend.extensions import db
    from backend.models import Interview
    from backend.services.policy import has_public_consent

    created = client.post("/api/v1/persons", json={"category": "good_person", "name": "钱阿婆", "gender": "female",
                                                   "area": {"district": "连云区"}, "biography": "守岛四十年。"},
                          headers=auth("collector")).get_json()
    pid = created["id"]
    upload_png(client, auth("collector"), pid, 3, person_id=str(pid), title="近照")
    interviews = [client.post("/api/v1/interviews", json={"title": f"访谈{n}", "interviewee_ids": [pid]},
                              headers=auth("collector")).get_json() for n in (1, 2)]
    form = upload_png(client, auth("collector"), pid, 4, title="授权书")
    scoped = consent(client, auth, pid, form["id"], interview_id=interviews[0]["id"])
    assert scoped["interview_scoped"] is True
    advance(client, pid, auth("collector"), "submit")
    advance(client, pid, auth("archivist"), "approve")
    checklist = f"/api/v1/persons/{pid}/checklist"
    assert client.get(checklist, headers=auth("archivist")).get_json()["missing"] == ["consent_public"]

    assert client.delete(f"/api/v1/interviews/{interviews[0]['id']}", headers=auth("collector")).status_code == 204
    listed = client.get(f"/api/v1/persons/{pid}/consents", headers=auth("archivist")).get_json()["items"]
    assert [(c["id"], c["active"], c["interview_scoped"], c["interview_id"]) for c in listed] == [
        (scoped["id"], False, True, None)]
    assert "访谈" in listed[0]["withdraw_reason"]
    assert client.get(checklist, headers=auth("archivist")).get_json()["missing"] == ["consent_public"]
    assert assert_error(publish(client, auth, pid), 409, "publication_checklist")["details"]["missing"] == [
        "consent_public"]
    assert client.get(f"/api/public/persons/{pid}").status_code == 404

    # the database keeps it so even when an interview row goes without the service (nothing to withdraw it)
    consent(client, auth, pid, form["id"], interview_id=interviews[1]["id"])
    with app.app_context():
        db.session.delete(db.session.get(Interview, interviews[1]["id"]))
        db.session.commit()
        assert has_public_consent(pid) is False
    assert client.get(checklist, headers=auth("archivist")).get_json()["missing"] == ["consent_public"]
