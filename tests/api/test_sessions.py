"""Login sessions: refresh tokens rotate and work once, a reused one revokes its whole family, logout ends the
session, and a password reset, disabling or change of roles ends every earlier token at once, to the instant."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any, Iterator

import pytest
from flask_jwt_extended import decode_token

from backend import transaction
from backend.extensions import db
from backend.models import RateLimitCounter, RefreshToken, TokenFamily
from backend.services import housekeeping, rate_limits
from tests.api.helpers import assert_error
from tests.api.test_concurrent_edits import race
from tests.conftest import PASSWORD
from tests.support.gunicorn import Gunicorn


def login(client, username="collector", password=PASSWORD):
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refresh(client, refresh_token: str):
    return client.post("/api/v1/auth/refresh", headers=bearer(refresh_token))


def me(client, access_token: str):
    return client.get("/api/v1/auth/me", headers=bearer(access_token))


def test_each_refresh_returns_a_new_pair_and_spends_the_old_refresh_token(client, users):
    tokens = login(client)
    first = refresh(client, tokens["refresh_token"])
    assert first.status_code == 200
    body = first.get_json()
    assert {"access_token", "refresh_token", "user"} <= set(body) and body["user"]["username"] == "collector"
    assert body["refresh_token"] != tokens["refresh_token"] and body["access_token"] != tokens["access_token"]
    assert me(client, body["access_token"]).status_code == 200
    second = refresh(client, body["refresh_token"])
    assert second.status_code == 200, "the new refresh token works, once"
    assert me(client, second.get_json()["access_token"]).status_code == 200


def test_a_reused_refresh_token_revokes_its_whole_family(client, users):
    stolen = login(client)  # a copy of this refresh token leaks
    other_device = login(client)  # the same user on another phone: another login, another family
    rotated = refresh(client, stolen["refresh_token"]).get_json()  # the owner's app refreshes first
    reused = assert_error(refresh(client, stolen["refresh_token"]), 401, "refresh_token_reused")
    assert "重新登录" in reused["message"]
    # every token of that login is gone: the newest refresh token, and the access tokens old and new
    assert_error(refresh(client, rotated["refresh_token"]), 401, "token_revoked")
    assert_error(me(client, rotated["access_token"]), 401, "token_revoked")
    assert_error(me(client, stolen["access_token"]), 401, "token_revoked")
    # the other login is untouched
    assert me(client, other_device["access_token"]).status_code == 200
    assert refresh(client, other_device["refresh_token"]).status_code == 200


def test_logout_revokes_the_sessions_refresh_tokens(client, users):
    tokens = login(client)
    rotated = refresh(client, tokens["refresh_token"]).get_json()
    other_device = login(client)
    assert client.post("/api/v1/auth/logout", headers=bearer(rotated["access_token"])).status_code == 204
    assert_error(refresh(client, rotated["refresh_token"]), 401, "token_revoked")
    assert_error(me(client, tokens["access_token"]), 401, "token_revoked")
    assert me(client, other_device["access_token"]).status_code == 200, "logging out ends this session only"


@pytest.mark.parametrize("change", [{"password": "new-password-123"}, {"is_active": False},
                                    {"roles": ["collector", "editor"]}], ids=["password", "disable", "roles"])
def test_tokens_issued_the_same_instant_before_a_change_are_refused(client, auth, users, change):
    """No clock.advance between the login and the change: the token version, not a timestamp, ends the session, so
    a token issued in the same second (the same millisecond) before the change is refused."""
    tokens = login(client)
    response = client.patch(f"/api/v1/users/{users['collector']}", json=change, headers=auth("admin"))
    assert response.status_code == 200
    assert me(client, tokens["access_token"]).status_code == 401
    assert refresh(client, tokens["refresh_token"]).status_code == 401
    if "is_active" not in change:  # a login right after the change, in the same second, is a session of its own
        fresh = login(client, password=change.get("password", PASSWORD))
        assert me(client, fresh["access_token"]).get_json()["roles"] == change.get("roles", ["collector"])


def test_other_edits_of_an_account_leave_its_sessions_alone(client, auth, users):
    tokens = login(client)
    client.patch(f"/api/v1/users/{users['collector']}", json={"display_name": "王采集"}, headers=auth("admin"))
    assert me(client, tokens["access_token"]).status_code == 200
    assert refresh(client, tokens["refresh_token"]).status_code == 200


def test_housekeeping_deletes_sessions_and_counters_past_their_last_use(app, client, users, clock):
    login(client)
    with app.app_context(), transaction.atomic():
        rate_limits.hit("public", "192.0.2.1", 10, 60.0)
    clock.advance(app.config["JWT_REFRESH_TOKEN_EXPIRES"] + timedelta(minutes=1))
    kept = login(client)
    with app.app_context():
        kept_family = decode_token(kept["refresh_token"])["fam"]
    with app.app_context(), transaction.atomic():
        purged = housekeeping.purge_expired()
    assert (purged["token_families"], purged["refresh_tokens"], purged["rate_limit_counters"]) == (1, 1, 1)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(TokenFamily)) == 1
        assert db.session.scalar(db.select(db.func.count()).select_from(RefreshToken)) == 1
        assert db.session.scalar(db.select(db.func.count()).select_from(RateLimitCounter)) == 0
        assert db.session.get(TokenFamily, kept_family) is not None


@pytest.fixture
def server(app: Any, tmp_path: Any) -> Iterator[Gunicorn]:
    live = Gunicorn(app, tmp_path, workers=2)  # gevent workers: every refresh in flight at once
    live.start()
    yield live
    live.stop()


@pytest.mark.both_databases  # the conditional UPDATE racing: SQLite's one writer, PostgreSQL's row lock
def test_simultaneous_refreshes_of_one_token_exactly_one_wins(client, users, server):
    tokens = login(client)
    racers = 10
    results = race([("POST", f"{server.base}/api/v1/auth/refresh", {}, bearer(tokens["refresh_token"]))] * racers)
    statuses = Counter(status for status, _ in results)
    assert statuses == {200: 1, 401: racers - 1}, (results, server.output()[-3000:])
    codes = Counter(body["error"]["code"] for status, body in results if status == 401)
    assert codes["refresh_token_reused"] >= 1 and set(codes) <= {"refresh_token_reused", "token_revoked"}, codes
    # the documented rule: a second use is reuse, so the family is revoked, the winner's new tokens included
    [winner] = [body for status, body in results if status == 200]
    assert_error(refresh(client, winner["refresh_token"]), 401, "token_revoked")


# --- the console's cookie session ------------------------------------------------------------------------------

def _session_cookies(response) -> dict[str, str]:
    """name → the Set-Cookie header that sets (or clears) it."""
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def test_a_console_session_is_in_httponly_strict_cookies_with_no_token_in_the_body(client, users):
    response = client.post("/api/v1/auth/session", json={"username": "editor", "password": PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["username"] == "editor" and "transcript.edit" in body["user"]["permissions"]
    assert "access_token" not in body and "refresh_token" not in body and body["token_type"] == "cookie"
    cookies = _session_cookies(response)
    assert set(cookies) == {"access_token_cookie", "csrf_access_token", "refresh_token_cookie", "csrf_refresh_token"}
    for name in ("access_token_cookie", "refresh_token_cookie"):
        assert "HttpOnly" in cookies[name] and "SameSite=Strict" in cookies[name]
        assert "Secure" not in cookies[name], "plain http (auto): a Secure cookie would never come back"
    assert "Path=/api/v1/auth/session" in cookies["refresh_token_cookie"]
    assert "HttpOnly" not in cookies["csrf_access_token"]
    me_answer = client.get("/api/v1/auth/me")  # the cookie alone: reads need no CSRF value
    assert me_answer.status_code == 200 and me_answer.get_json()["username"] == "editor"


def test_over_https_the_cookies_are_secure(client, users):
    response = client.post("/api/v1/auth/session", json={"username": "editor", "password": PASSWORD},
                           base_url="https://archive.example")
    assert all("Secure" in header for header in _session_cookies(response).values())


def test_a_change_with_the_cookie_needs_the_csrf_double_submit(client, users):
    client.post("/api/v1/auth/session", json={"username": "editor", "password": PASSWORD})
    assert_error(client.post("/api/v1/me/notifications/read-all"), 401, "csrf_failed")
    assert_error(client.post("/api/v1/me/notifications/read-all", headers={"X-CSRF-TOKEN": "forged"}), 401,
                 "csrf_failed")
    csrf = client.get_cookie("csrf_access_token").value
    assert client.post("/api/v1/me/notifications/read-all", headers={"X-CSRF-TOKEN": csrf}).status_code == 200


def test_the_refresh_cookie_rotates_once_and_a_replay_ends_the_session(client, users):
    client.post("/api/v1/auth/session", json={"username": "editor", "password": PASSWORD})
    old_refresh = client.get_cookie("refresh_token_cookie", path="/api/v1/auth/session").value
    csrf = client.get_cookie("csrf_refresh_token").value
    renewed = client.post("/api/v1/auth/session/refresh", headers={"X-CSRF-TOKEN": csrf})
    assert renewed.status_code == 200 and "access_token" not in renewed.get_json()
    assert client.get_cookie("refresh_token_cookie", path="/api/v1/auth/session").value != old_refresh
    assert client.get("/api/v1/auth/me").status_code == 200
    # the spent refresh token presented again (a copy): the whole login is revoked
    replay = client.post("/api/v1/auth/session/refresh", headers={"Authorization": f"Bearer {old_refresh}"})
    assert_error(replay, 401, "refresh_token_reused")
    assert_error(client.get("/api/v1/auth/me"), 401, "token_revoked")


def test_closing_the_console_session_revokes_it_and_clears_the_cookies(client, users):
    client.post("/api/v1/auth/session", json={"username": "editor", "password": PASSWORD})
    access = client.get_cookie("access_token_cookie", path="/api/").value
    csrf = client.get_cookie("csrf_refresh_token").value
    closed = client.delete("/api/v1/auth/session", headers={"X-CSRF-TOKEN": csrf})
    assert closed.status_code == 204
    assert all("Expires=Thu, 01 Jan 1970" in header for header in _session_cookies(closed).values())
    assert client.get_cookie("access_token_cookie", path="/api/") is None
    assert_error(me(client, access), 401, "token_revoked")


def test_me_names_the_permissions_of_the_users_roles(client, users):
    tokens = login(client, "archivist")
    permissions = me(client, tokens["access_token"]).get_json()["permissions"]
    assert "transcript.approve" in permissions and "user.manage" not in permissions
    assert permissions == sorted(permissions)
