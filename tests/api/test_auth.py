"""Login, refresh, logout/revocation, throttling and account state as a mobile client sees them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.helpers import assert_error
from tests.conftest import PASSWORD


def login(client, username="collector", password=PASSWORD):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_login_returns_tokens_and_user(client, users):
    response = login(client)
    assert response.status_code == 200
    body = response.get_json()
    assert body["access_token"] and body["refresh_token"]
    assert body["user"]["username"] == "collector"
    assert body["user"]["roles"] == ["collector"]
    assert "password" not in body["user"] and "password_hash" not in body["user"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.get_json()["id"] == users["collector"]


def test_username_is_case_insensitive(client, users):
    assert login(client, "Collector").status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_401(client, users):
    wrong = assert_error(login(client, password="nope-nope"), 401, "invalid_credentials")
    unknown = assert_error(login(client, username="nobody"), 401, "invalid_credentials")
    assert wrong["message"] == unknown["message"]


@pytest.mark.both_databases  # counts failures in a window with SQL over UTC timestamps
def test_repeated_failures_are_throttled_then_lift(client, app, users, clock):
    app.config["LOGIN_WINDOW"] = timedelta(seconds=2)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(client, password="wrong-password").status_code == 401
    throttled = login(client)  # even the right password waits while throttled
    error = assert_error(throttled, 429, "login_throttled")
    assert int(throttled.headers["Retry-After"]) >= 1
    assert error["details"]["retry_after"] >= 1
    # other accounts are not affected by one account's failures
    assert login(client, username="editor").status_code == 200
    clock.advance(timedelta(seconds=2.2))
    assert login(client).status_code == 200, "the account must not stay locked"


def test_refresh_gives_new_access_token_and_rejects_access_tokens(client, users):
    tokens = login(client).get_json()
    refreshed = client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert refreshed.status_code == 200
    new_access = refreshed.get_json()["access_token"]
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {new_access}"}).status_code == 200
    assert_error(client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['access_token']}"}),
                 401)


def test_logout_revokes_access_and_refresh_tokens(client, users):
    tokens = login(client).get_json()
    access = {"Authorization": f"Bearer {tokens['access_token']}"}
    response = client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=access)
    assert response.status_code == 204
    assert_error(client.get("/api/v1/auth/me", headers=access), 401, "token_revoked")
    assert_error(client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}),
                 401, "token_revoked")
    # a fresh login still works
    assert login(client).status_code == 200


def test_garbage_and_missing_tokens_are_401(client, users):
    assert_error(client.get("/api/v1/auth/me"), 401, "unauthorized")
    assert_error(client.get("/api/v1/auth/me", headers={"Authorization": "Bearer not.a.jwt"}), 401, "invalid_token")


def test_expired_access_token_is_401(client, app, users, clock):
    app.config["JWT_ACCESS_TOKEN_EXPIRES"] = timedelta(seconds=1)
    token = login(client).get_json()["access_token"]
    clock.advance(timedelta(seconds=2.1))
    assert_error(client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}), 401, "token_expired")


def test_disabling_a_user_ends_their_sessions(client, auth, users):
    token = login(client).get_json()["access_token"]
    response = client.patch(f"/api/v1/users/{users['collector']}", json={"is_active": False}, headers=auth("admin"))
    assert response.status_code == 200
    assert_error(client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}), 401)
    assert_error(login(client), 403, "account_disabled")


def test_password_reset_by_admin_revokes_old_tokens(client, auth, users, clock):
    token = login(client).get_json()["access_token"]
    clock.advance(timedelta(seconds=1.1))  # token timestamps have one-second resolution
    response = client.patch(f"/api/v1/users/{users['collector']}", json={"password": "new-password-123"},
                            headers=auth("admin"))
    assert response.status_code == 200
    assert_error(client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}), 401)
    assert login(client, password=PASSWORD).status_code == 401
    assert login(client, password="new-password-123").status_code == 200


def test_passwords_are_stored_as_argon2(app, users):
    from backend.extensions import db
    from backend.models import User

    with app.app_context():
        stored = db.session.get(User, users["collector"]).password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
