"""Logging in to the console in a real browser: the login form, ?next= back to where one was, the session in
HttpOnly SameSite cookies (never in web storage) with a CSRF double submit, a renewed access token, logging out,
and the security headers of every console page."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import requests
from flask_jwt_extended import create_access_token, decode_token
from playwright.sync_api import expect

from tests.conftest import PASSWORD


def _cookies(page) -> dict[str, dict]:
    return {cookie["name"]: cookie for cookie in page.context.cookies()}


def test_logging_in_through_the_form_returns_to_the_page_asked_for(open_page, problems, screenshot):
    problems.allow_status(401)  # the page asks who is logged in before it knows nobody is
    page = open_page(user=None, path="/console/transcripts?status=machine")
    expect(page).to_have_url(f"/console/login?next={quote('/console/transcripts?status=machine', safe='')}")
    expect(page.get_by_text("登录后将回到您刚才的页面")).to_be_visible()
    screenshot(page, "login")
    page.get_by_label("用户名").fill("editor")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url("/console/transcripts?status=machine")
    expect(page.locator("#current-user")).to_have_text("张编辑")


def test_a_wrong_password_is_told_in_plain_words_and_nothing_is_stored(open_page, problems):
    problems.allow_status(401)
    page = open_page(user=None, path="/console/login")
    page.get_by_label("用户名").fill("editor")
    page.get_by_label("密码").fill("not-the-password")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误")
    expect(page).to_have_url("/console/login")
    assert "access_token_cookie" not in _cookies(page)


def test_the_session_lives_in_httponly_strict_cookies_and_never_in_web_storage(open_page, site):
    page = open_page(user=None, path="/console/login")
    page.get_by_label("用户名").fill("archivist")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#current-user")).to_have_text("赵档案")
    cookies = _cookies(page)
    for name in ("access_token_cookie", "refresh_token_cookie"):
        assert cookies[name]["httpOnly"] is True and cookies[name]["sameSite"] == "Strict", cookies[name]
    assert cookies["refresh_token_cookie"]["path"] == "/api/v1/auth/session", "the refresh token goes nowhere else"
    assert cookies["csrf_access_token"]["httpOnly"] is False, "the page reads it to send X-CSRF-TOKEN"
    stored = page.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}])")
    assert cookies["access_token_cookie"]["value"] not in stored and "eyJ" not in stored
    assert "eyJ" not in page.evaluate("() => document.cookie"), "no token is readable by scripts"

    # The cookie alone does not make a change: the CSRF double submit is checked.
    jar = {name: cookie["value"] for name, cookie in cookies.items()}
    without = requests.post(f"{site.base}/api/v1/me/notifications/read-all", cookies=jar, timeout=30)
    assert without.status_code == 401 and without.json()["error"]["code"] == "csrf_failed"
    with_token = requests.post(f"{site.base}/api/v1/me/notifications/read-all", cookies=jar, timeout=30,
                               headers={"X-CSRF-TOKEN": jar["csrf_access_token"]})
    assert with_token.status_code == 200, with_token.text


def _expire_access_cookie(page, site) -> str:
    """Put an access token of the same login that expired 30 s ago into the browser's cookie."""
    cookie = _cookies(page)["access_token_cookie"]
    with site.seeding():
        claims = decode_token(cookie["value"])
        expired = create_access_token(identity=claims["sub"], expires_delta=timedelta(seconds=-30),
                                      additional_claims={key: claims[key] for key in ("roles", "ver", "fam")})
    page.context.add_cookies([{**cookie, "value": expired}])
    return expired


def test_an_expired_access_token_is_renewed_without_leaving_the_page(open_page, site, problems):
    problems.allow_status(401)  # the first answer to the expired token, before the renewal
    page = open_page(user="editor", path="/console/")
    expect(page.locator("#current-user")).to_have_text("张编辑")
    before = _cookies(page)
    expired = _expire_access_cookie(page, site)
    page.reload()  # reads: 401 token_expired, one refresh, the same request again
    expect(page.locator("#current-user")).to_have_text("张编辑")
    expect(page).to_have_url("/console/")
    after = _cookies(page)
    assert after["refresh_token_cookie"]["value"] != before["refresh_token_cookie"]["value"], "rotated"
    assert after["access_token_cookie"]["value"] != expired

    expired = _expire_access_cookie(page, site)  # a change: sent again with the renewed CSRF value
    status = page.evaluate("""async () => {
        const {api} = await import('/console/static/console/api.js');
        return (await api.post('/api/v1/me/notifications/read-all')).status;
    }""")
    assert status == 200
    assert _cookies(page)["access_token_cookie"]["value"] != expired
    expect(page).to_have_url("/console/")


def test_logging_out_ends_the_session_and_clears_its_cookies(open_page, site, problems):
    problems.allow_status(401)
    page = open_page(user="editor", path="/console/")
    jar = {name: cookie["value"] for name, cookie in _cookies(page).items()}
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url("/console/login")
    assert not {"access_token_cookie", "refresh_token_cookie"} & set(_cookies(page))
    answer = requests.get(f"{site.base}/api/v1/auth/me", cookies=jar, timeout=30)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "token_revoked", "revoked, not just forgotten"


def test_console_pages_send_a_strict_content_security_policy(site):
    for path in ("/console/login", "/console/", "/console/transcripts", "/console/transcripts/1",
                 "/console/persons", "/console/persons/1", "/console/stats"):
        response = requests.get(site.base + path, timeout=30)
        assert response.status_code == 200, path
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert "<script>" not in response.text and " style=" not in response.text and " on" + "click" not in response.text


def test_the_login_page_and_my_work_have_no_serious_accessibility_violations(open_page, axe_scan, problems,
                                                                             screenshot):
    problems.allow_status(401)
    page = open_page(user=None, path="/console/login")
    assert axe_scan(page) == []
    page = open_page(user="archivist", path="/console/")
    expect(page.locator("#my-claims")).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#notifications")).not_to_have_attribute("aria-busy", "true")
    screenshot(page, "my-work")
    assert axe_scan(page) == []
