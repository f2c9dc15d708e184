"""The browser console at /console/: server-rendered page shells whose scripts use the same JSON API as the phones,
its static files (our own and vendored, no CDN), and the security headers of every console response."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, Flask, Response, current_app, g, render_template

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")

# The main navigation: (endpoint, label). Pages of the archivists' desk come with their own helper's work.
NAVIGATION = (("console.my_work", "我的工作"), ("console.queue", "转写校对"), ("console.persons", "人物档案"),
              ("console.stats", "统计"))


def _style_nonce() -> str:
    """A fresh nonce per response for the one <style> element wavesurfer.js puts into its shadow root."""
    if "console_style_nonce" not in g:
        g.console_style_nonce = secrets.token_urlsafe(16)
    return str(g.console_style_nonce)


def _storage_origin() -> str | None:
    """With S3 storage the content endpoint redirects to presigned URLs: their origin may serve media and images."""
    url = str(current_app.config.get("STORAGE_URL") or "")
    if not url.startswith("s3://"):
        return None
    parts = urlsplit(url)
    secure = parse_qs(parts.query).get("secure", ["true"])[0].lower() not in ("false", "0", "no")
    host = parts.hostname or ""
    return f"{'https' if secure else 'http'}://{host}{f':{parts.port}' if parts.port else ''}"


def content_security_policy() -> str:
    storage = _storage_origin()
    extra = f" {storage}" if storage else ""
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        f"style-src 'self' 'nonce-{_style_nonce()}'",
        f"img-src 'self' data: blob:{extra}",
        f"media-src 'self' blob:{extra}",
        f"connect-src 'self'{extra}",
        "font-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ))


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = content_security_policy()
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


def _page(template: str, page: str, title: str, nav: str | None = None, **ids: Any) -> str:
    """A page shell: the layout, the page's script and the ids it works on (as data attributes, never inline
    script). Everything a user typed is fetched and shown by the script, as text."""
    return render_template(f"console/{template}", page=page, title=title, ids=ids, navigation=NAVIGATION,
                           current=nav or f"console.{page}", style_nonce=_style_nonce())


@bp.route("/login")
def login() -> str:
    return _page("login.html", "login", "登录")


@bp.route("/")
def my_work() -> str:
    return _page("my_work.html", "my_work", "我的工作")


@bp.route("/transcripts")
def queue() -> str:
    return _page("queue.html", "queue", "转写校对")


@bp.route("/transcripts/<int:transcript_id>")
def transcript(transcript_id: int) -> str:
    return _page("transcript.html", "transcript", "转写稿校对", "console.queue", transcript_id=transcript_id)


@bp.route("/persons")
def persons() -> str:
    return _page("persons.html", "persons", "人物档案")


@bp.route("/persons/<int:person_id>")
def person(person_id: int) -> str:
    return _page("person.html", "person", "人物档案", "console.persons", person_id=person_id)


@bp.route("/stats")
def stats() -> str:
    return _page("stats.html", "stats", "统计")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
