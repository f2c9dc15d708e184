"""/me/notifications: a collector in the field sees the archivist's return comment and marks it read; nobody
else can read or mark it."""

from __future__ import annotations

import pytest

from tests.api.helpers import advance, assert_error, if_match, make_person

NOTES = "/api/v1/me/notifications"


@pytest.fixture
def app(sqlite_app):  # plain queries: SQLite only
    return sqlite_app


def returned_profile(client, auth, owner: str, name: str, comment: str) -> int:  # type: ignore[no-untyped-def]
    person = make_person(client, auth(owner), name=name)
    advance(client, person["id"], auth(owner), "submit")
    url = f"/api/v1/persons/{person['id']}"
    response = client.post(f"{url}/return", json={"comment": comment}, headers=if_match(client, url, auth("archivist")))
    assert response.status_code == 200
    return person["id"]


def test_collector_sees_the_return_comment_and_marks_it_read(client, auth, users):
    pid = returned_profile(client, auth, "collector", "陈十一", "请补充出生日期")

    listing = client.get(NOTES, headers=auth("collector"))
    assert listing.status_code == 200
    body = listing.get_json()
    assert body["total"] == 1 and body["unread"] == 1 and body["page"] == 1 and body["per_page"] == 20
    note = body["items"][0]
    assert note["kind"] == "person_returned" and note["entity_type"] == "person" and note["entity_id"] == str(pid)
    assert note["comment"] == "请补充出生日期" and "陈十一" in note["message"]
    assert note["actor_id"] == users["archivist"] and note["actor_name"] == "archivist"
    assert note["read"] is False and note["read_at"] is None
    assert client.get(f"{NOTES}?unread=true", headers=auth("collector")).get_json()["total"] == 1

    # nobody else sees it, reads it or marks it
    for role in ("other_collector", "editor", "archivist", "admin"):
        others = client.get(NOTES, headers=auth(role)).get_json()
        assert others["total"] == 0 and others["unread"] == 0, role
        assert_error(client.post(f"{NOTES}/{note['id']}/read", headers=auth(role)), 404, "notification_not_found")
    assert client.get(NOTES, headers=auth("collector")).get_json()["unread"] == 1

    read = client.post(f"{NOTES}/{note['id']}/read", headers=auth("collector"))
    assert read.status_code == 200
    assert read.get_json()["read"] is True and read.get_json()["read_at"] is not None
    again = client.post(f"{NOTES}/{note['id']}/read", headers=auth("collector"))
    assert again.status_code == 200 and again.get_json()["read_at"] == read.get_json()["read_at"]

    after = client.get(NOTES, headers=auth("collector")).get_json()
    assert after["total"] == 1 and after["unread"] == 0 and after["items"][0]["read"] is True
    assert client.get(f"{NOTES}?unread=true", headers=auth("collector")).get_json()["items"] == []
    assert_error(client.post(f"{NOTES}/999999/read", headers=auth("collector")), 404, "notification_not_found")


def test_read_all_touches_only_ones_own(client, auth):
    first = returned_profile(client, auth, "collector", "甲", "请补充照片")
    second = returned_profile(client, auth, "collector", "乙", "事迹过短")
    returned_profile(client, auth, "other_collector", "丙", "请核对籍贯")

    page = client.get(f"{NOTES}?per_page=1", headers=auth("collector")).get_json()
    assert page["total"] == 2 and page["unread"] == 2 and len(page["items"]) == 1
    assert page["items"][0]["entity_id"] == str(second), "newest first"
    page2 = client.get(f"{NOTES}?per_page=1&page=2", headers=auth("collector")).get_json()
    assert page2["items"][0]["entity_id"] == str(first)

    response = client.post(f"{NOTES}/read-all", headers=auth("collector"))
    assert response.status_code == 200 and response.get_json() == {"marked": 2, "unread": 0}
    assert client.post(f"{NOTES}/read-all", headers=auth("collector")).get_json() == {"marked": 0, "unread": 0}
    assert client.get(NOTES, headers=auth("other_collector")).get_json()["unread"] == 1


def test_notifications_about_one_profile(client, auth):
    first = returned_profile(client, auth, "collector", "甲", "请补充照片")
    second = returned_profile(client, auth, "collector", "乙", "事迹过短")

    about = client.get(f"{NOTES}?entity_type=person&entity_id={first}", headers=auth("collector")).get_json()
    assert [(n["entity_id"], n["comment"]) for n in about["items"]] == [(str(first), "请补充照片")]
    assert about["total"] == 1 and about["unread"] == 2, "unread still counts all of them"
    assert client.get(f"{NOTES}?entity_type=person", headers=auth("collector")).get_json()["total"] == 2
    assert client.get(f"{NOTES}?entity_type=transcript", headers=auth("collector")).get_json()["total"] == 0
    assert client.get(f"{NOTES}?entity_type=person&entity_id={second}",
                      headers=auth("other_collector")).get_json()["total"] == 0, "only one's own"


def test_bad_query_arguments_are_422(client, auth):
    assert_error(client.get(f"{NOTES}?unread=perhaps", headers=auth("collector")), 422)
    assert_error(client.get(f"{NOTES}?per_page=1000", headers=auth("collector")), 422)
    assert_error(client.get(NOTES), 401)


def test_routes_are_documented(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/persons/{person_id}/consents"]) >= {"get", "post"}
    assert "post" in paths["/api/v1/persons/{person_id}/consents/{consent_id}/withdraw"]
    assert "get" in paths["/api/v1/me/notifications"]
    assert "post" in paths["/api/v1/me/notifications/{notification_id}/read"]
    assert "post" in paths["/api/v1/me/notifications/read-all"]
