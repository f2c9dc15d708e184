"""Browser tests of the console: one live gunicorn (its own SQLite database and media, users seeded per role) and
one headless Chromium (Debian's) for the whole session. Every page a test opens fails that test on a console error,
an uncaught page error or a Content-Security-Policy violation; main pages are saved as screenshots under
``$LIUFANG_TEST_ARTIFACTS/console`` (default ``test-artifacts/console``).

Tests do not share records: each makes the transcripts it works on (a real recording, processed by ffmpeg through
the API in this process, whose derivatives the server then serves), so they may run in any order."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask_jwt_extended import create_access_token
from playwright.sync_api import sync_playwright

from backend import create_app, transaction
from backend.extensions import db, queue
from backend.jobs import tasks
from backend.models import Job, Material
from backend.services.transcripts import store_result
from backend.services.users import create_user
from transcription.base import Segment, TranscriptionResult, Word
from tests.conftest import PASSWORD, _base_config, _migrate
from tests.support.gunicorn import Gunicorn

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("LIUFANG_TEST_ARTIFACTS") or ROOT / "test-artifacts") / "console"
CHROMIUM = os.environ.get("LIUFANG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
VIEWPORT = {"width": 1366, "height": 768}
# username: (roles, display name)
USERS = {
    "admin": (["admin"], "管理员"),
    "collector": (["collector"], "王采集"),
    "editor": (["editor"], "张编辑"),
    "editor-2": (["editor"], "李编辑"),
    "archivist": (["archivist"], "赵档案"),
}
# What an init script reports for every CSP violation (Chromium also logs it as a console error).
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`);
});
"""
_tones = itertools.count(1)


class ConsoleSite:
    """The live server and, on the same database and media, an app in this process that seeds records."""

    def __init__(self, root: Path) -> None:
        self.root = root
        url = f"sqlite:///{root / 'console.db'}"
        _migrate(url, root / "migrate")
        self.app = create_app({**_base_config(root, url), "QUEUE_IMMEDIATE": True})
        self.user_ids: dict[str, int] = {}
        with self.seeding():
            for username, (roles, display_name) in USERS.items():
                self.user_ids[username] = self._create_user(username, roles, display_name)
        self.server = Gunicorn(self.app, root, workers=2)
        self.base = self.server.base

    @staticmethod
    def _create_user(username: str, roles: list[str], display_name: str) -> int:
        with transaction.atomic():
            return create_user(None, username=username, password=PASSWORD, roles=roles, display_name=display_name).id

    @contextlib.contextmanager
    def seeding(self) -> Iterator[None]:
        """An app context of the seeding app, with the task queue bound to it (other tests' apps rebind it)."""
        queue.init_app(self.app)
        tasks.register(queue, self.app)
        with self.app.app_context():
            yield
            db.session.remove()

    def headers(self, username: str) -> dict[str, str]:
        with self.seeding():
            return {"Authorization": f"Bearer {create_access_token(identity=str(self.user_ids[username]))}"}

    def api(self, method: str, path: str, username: str = "editor", **kwargs: Any) -> requests.Response:
        """A request to the live server as ``username`` (bearer token), for setting up and checking."""
        headers = {**self.headers(username), **kwargs.pop("headers", {})}
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def record_audio(self, seconds: float, title: str) -> int:
        """A recording of ``seconds`` uploaded by the collector and processed (proxy, asr, waveform): its id."""
        tone = next(_tones)
        path = self.root / f"tone-{tone}.wav"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        f"sine=frequency={180 + 7 * tone}:sample_rate=16000",
                        "-af", "volume='0.15+0.6*abs(sin(PI*t/1.7))':eval=frame",
                        "-t", str(seconds), "-ac", "1", str(path)], check=True)
        with self.seeding():
            client = self.app.test_client()
            with open(path, "rb") as fh:
                posted = client.post("/api/v1/materials", data={"file": (fh, path.name), "title": title},
                                     content_type="multipart/form-data", headers=self.headers("collector"))
            assert posted.status_code in (200, 201), posted.get_json()
            material_id = posted.get_json()["id"]
            material = client.get(f"/api/v1/materials/{material_id}", headers=self.headers("collector")).get_json()
        assert material["status"] == "ready", material
        return int(material_id)

    def make_transcript(self, segments: list[dict[str, Any]], *, seconds: float = 12.0,
                        title: str = "新坝镇口述史") -> int:
        """A machine transcript (revision 1) of a new recording, stored as the transcription job stores one.
        ``segments``: dicts with start, end, text and optionally speaker, flagged, words, meta."""
        material_id = self.record_audio(seconds, title)
        with self.seeding():
            material = db.session.get(Material, material_id)
            job = Job(id=f"console-job-{material_id}", kind="transcribe", status="running", material_id=material_id,
                      params={"engine": "faster-whisper", "model": "base"}, created_by_id=material.collector_id)
            with transaction.atomic():
                db.session.add(job)
            rows = [Segment(index=i, start=s["start"], end=s["end"], text=s["text"], speaker=s.get("speaker"),
                            flagged=bool(s.get("flagged")), avg_logprob=s.get("avg_logprob", -0.3),
                            meta=s.get("meta") or ({"flags": [{"reason": "low_avg_logprob", "value": -1.2,
                                                               "threshold": -1.0}]} if s.get("flagged") else {}),
                            words=[Word(**w) for w in s.get("words", [])])
                    for i, s in enumerate(segments)]
            result = TranscriptionResult(language="zh", language_probability=0.99, duration=seconds,
                                         engine="faster-whisper", model="base", segments=rows)
            with transaction.atomic():
                material = db.session.get(Material, material_id)
                job = db.session.get(Job, job.id)
                transcript_id = store_result(material, job, result).id
        return int(transcript_id)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    console_site = ConsoleSite(tmp_path_factory.mktemp("console"))
    console_site.server.start()
    yield console_site
    console_site.server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session (Debian's package; Playwright never downloads a browser here)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/install-system-deps --test "
                    "(or set LIUFANG_CHROMIUM)", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--autoplay-policy=no-user-gesture-required", "--mute-audio"])
        yield chromium
        chromium.close()


class PageProblems:
    """Console errors, page errors and CSP violations seen by a test's pages; answers the test expects (a 412 in
    a conflict test) are allowed by status."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.allowed_statuses: set[int] = set()
        self.allowed_texts: set[str] = set()
        self.tooling = False  # axe-core at work: the styles it injects are its own, not the page's

    def allow_status(self, *statuses: int) -> None:
        self.allowed_statuses.update(statuses)

    def allow_text(self, *fragments: str) -> None:
        """Console errors containing one of ``fragments`` are expected (a connection the test cuts)."""
        self.allowed_texts.update(fragments)


    def watch(self, page: Any) -> None:
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: page error: {error}"))

    def _console(self, page: Any, message: Any) -> None:
        if message.type != "error" or self.tooling:
            return
        text = message.text
        status = re.search(r"the server responded with a status of (\d{3})", text)
        if status and int(status.group(1)) in self.allowed_statuses:
            return
        if any(fragment in text for fragment in self.allowed_texts):
            return
        self.problems.append(f"{page.url}: console error: {text}")


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def open_page(site: ConsoleSite, browser: Any, problems: PageProblems) -> Iterator[Callable[..., Any]]:
    """``open_page(user="editor", path="/console/")`` → a page in a new browser context (1366×768, zh-CN) with
    ``user`` logged in through the console's session endpoint (None: logged out). Checked for problems at the end."""
    contexts: list[Any] = []

    def open_(user: str | None = "editor", path: str | None = "/console/", *, viewport: dict[str, int] | None = None
              ) -> Any:
        context = browser.new_context(viewport=viewport or VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai",
                                      base_url=site.base)
        context.add_init_script(CSP_LISTENER)
        contexts.append(context)
        if user is not None:
            answer = context.request.post(f"{site.base}/api/v1/auth/session",
                                          data={"username": user, "password": PASSWORD})
            assert answer.status == 200, answer.text()
        page = context.new_page()
        problems.watch(page)
        if path is not None:
            page.goto(path)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert problems.problems == [], "\n".join(problems.problems)


@pytest.fixture(scope="session")
def screenshot() -> Callable[[Any, str], Path]:
    """``screenshot(page, "name")``: the whole page as test-artifacts/console/name.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def shoot(page: Any, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot


AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"


@pytest.fixture(scope="session")
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
def axe_scan(_axe_source: str, problems: PageProblems) -> Callable[[Any], list[dict[str, Any]]]:
    """``axe_scan(page)`` → the serious and critical accessibility violations axe-core finds on the page as it is
    (axe is evaluated through the browser's debugging protocol, so the page's CSP stays as strict as ever; the
    <style> axe itself tries to add, which that CSP refuses, is not counted against the page)."""

    def scan(page: Any) -> list[dict[str, Any]]:
        problems.tooling = True
        try:
            if not page.evaluate("() => typeof window.axe === 'object'"):
                page.evaluate(_axe_source)
            results = page.evaluate("""async () => {
                const result = await axe.run(document, {resultTypes: ['violations']});
                await new Promise((resolve) => setTimeout(resolve, 50));
                return result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ': ' + n.failureSummary)}));
            }""")
            page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 50))")
        finally:
            problems.tooling = False
        return [v for v in results if v["impact"] in ("serious", "critical")]

    return scan
