"""User administration through the API (admin only)."""

from __future__ import annotations

import pytest

from tests.api.helpers import assert_error


@pytest.mark.both_databases  # the role filter matches the JSON list as text in SQL
def test_admin_creates_and_lists_users(client, auth):
    response = client.post("/api/v1/users", json={"username": "wangfang", "password": "s3cret-pass",
                                                  "roles": ["collector", "editor"], "display_name": "王芳"},
                           headers=auth("admin"))
    assert response.status_code == 201
    created = response.get_json()
    assert created["roles"] == ["collector", "editor"] and created["display_name"] == "王芳"
    assert "password" not in created
    listing = client.get("/api/v1/users?role=editor", headers=auth("admin")).get_json()
    assert set(listing) == {"items", "total", "page", "per_page"}
    assert {u["username"] for u in listing["items"]} == {"editor", "wangfang"}
    login = client.post("/api/v1/auth/login", json={"username": "wangfang", "password": "s3cret-pass"})
    assert login.status_code == 200


def test_duplicate_username_is_409(client, auth):
    body = {"username": "editor", "password": "whatever-123", "roles": ["editor"]}
    assert_error(client.post("/api/v1/users", json=body, headers=auth("admin")), 409, "username_taken")


def test_bad_roles_and_weak_password_are_422(client, auth):
    assert_error(client.post("/api/v1/users", json={"username": "x1", "password": "long-enough-1",
                                                    "roles": ["superuser"]}, headers=auth("admin")), 422)
    assert_error(client.post("/api/v1/users", json={"username": "x2", "password": "short", "roles": ["editor"]},
                             headers=auth("admin")), 422, "weak_password")
    assert_error(client.post("/api/v1/users", json={"username": "x3", "password": "long-enough-1", "roles": []},
                             headers=auth("admin")), 422)


def test_admin_changes_roles_and_cannot_lock_themselves_out(client, auth, users):
    response = client.patch(f"/api/v1/users/{users['editor']}", json={"roles": ["editor", "archivist"]},
                            headers=auth("admin"))
    assert response.status_code == 200 and response.get_json()["roles"] == ["editor", "archivist"]
    assert_error(client.patch(f"/api/v1/users/{users['admin']}", json={"roles": ["editor"]}, headers=auth("admin")),
                 409, "cannot_demote_self")
    assert_error(client.patch(f"/api/v1/users/{users['admin']}", json={"is_active": False}, headers=auth("admin")),
                 409, "cannot_demote_self")
    assert_error(client.get("/api/v1/users/99999", headers=auth("admin")), 404, "user_not_found")


def test_user_changes_are_audited(client, auth, users):
    client.patch(f"/api/v1/users/{users['editor']}", json={"display_name": "李编辑"}, headers=auth("admin"))
    events = client.get(f"/api/v1/audit?entity_type=user&entity_id={users['editor']}",
                        headers=auth("admin")).get_json()["items"]
    assert events[0]["action"] == "update"
    assert events[0]["changes"]["display_name"] == {"before": "editor", "after": "李编辑"}
    assert events[0]["actor_id"] == users["admin"]
