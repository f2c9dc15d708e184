"""Console benchmark: a 2-hour interview's transcript (about 1,500 segments) in headless Chromium — time to
interactive, waveform drawn, keystroke to next paint — beside references measured in the same run."""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask_jwt_extended import create_access_token  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from backend import create_app, transaction  # noqa: E402
from backend.extensions import db  # noqa: E402
from backend.models import Job, Material  # noqa: E402
from backend.services.transcripts import store_result  # noqa: E402
from backend.services.users import create_user  # noqa: E402
from tests.support.gunicorn import Gunicorn  # noqa: E402
from transcription.base import Segment, TranscriptionResult, Word  # noqa: E402

ABOUT = """\
Usage:  .venv/bin/python bench/console_bench.py [--minutes 120] [--segments 1500] [--rounds 5]

Records a --minutes long tone (ffmpeg), uploads it through the API in process so it is processed as any recording
is (ASR audio, proxy, waveform peaks), stores a machine transcript of --segments segments (Chinese text, word
timings, one word in ten of low confidence), and serves it with gunicorn on 127.0.0.1 (2 workers, started by
tests/support/gunicorn.py). Headless Chromium (Debian's) then opens /console/transcripts/{id} --rounds times as the
editor (after one warm-up round; a new browser context each time, so nothing is cached) and reports medians:
- interactive: from navigation start to the mark the page sets once every segment is in the DOM with its handlers,
  the claim is answered (so the segments are editable) and a frame has been rendered; on the way, when the
  transcript JSON was read and when the segments began to render;
- waveform drawn: from navigation start to wavesurfer.js's first redrawcomplete over the stored peaks;
- keystroke: from keydown to the first task after the next rendered frame, typing 40 letters into the middle segment.
References in the same run: the console's login page (load event), GET /api/v1/transcripts/{id} fetched and
parsed from the page, and the same keystroke measure in the login page's username field.
"""

CHARS = "我们那时候家里很苦父亲在新坝镇打鱼母亲种地小时候上学要走十里路后来解放了日子慢慢好起来"
KEYSTROKE_PROBE = """
window.__keys = [];
window.addEventListener('keydown', (event) => {
  const started = event.timeStamp;
  requestAnimationFrame(() => setTimeout(() => window.__keys.push(performance.now() - started), 0));
}, true);
"""


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] if ordered else float("nan")


def _segments(count: int, seconds: float, rng: random.Random) -> list[Segment]:
    """``count`` segments filling ``seconds``, each with its words (two characters each) and their probabilities."""
    length = seconds / count
    rows = []
    for i in range(count):
        start = round(i * length, 2)
        end = round(min(seconds, (i + 1) * length - 0.05), 2)
        n_words = rng.randint(6, 14)
        step = (end - start) / n_words
        words, text = [], ""
        for w in range(n_words):
            piece = "".join(rng.choice(CHARS) for _ in range(2))
            roll = rng.random()
            probability = 0.3 if roll < 0.1 else 0.65 if roll < 0.2 else 0.95
            words.append(Word(start=round(start + w * step, 2), end=round(start + (w + 1) * step, 2), text=piece,
                              probability=probability))
            text += piece
        text += "。"
        flagged = i % 9 == 0
        rows.append(Segment(index=i, start=start, end=end, text=text, words=words, speaker=f"SPEAKER_{i % 2 + 1}",
                            avg_logprob=-1.2 if flagged else -0.3, flagged=flagged,
                            meta={"flags": [{"reason": "low_avg_logprob", "value": -1.2, "threshold": -1.0}]}
                            if flagged else {}))
    return rows


def _seed(app: Any, root: Path, minutes: float, count: int) -> tuple[int, dict[str, float]]:
    figures: dict[str, float] = {}
    seconds = minutes * 60
    audio = root / "interview.ogg"
    started = time.perf_counter()
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=220:sample_rate=16000", "-af", "volume='0.1+0.6*abs(sin(PI*t/2.3))':eval=frame",
                    "-t", str(seconds), "-ac", "1", "-c:a", "libopus", "-b:a", "16k", str(audio)], check=True)
    figures["record_s"] = time.perf_counter() - started
    with app.app_context():
        upgrade()
        with transaction.atomic():
            editor = create_user(None, username="bench-editor", password="bench-password-123", roles=["editor"])
            collector = create_user(None, username="bench-collector", password="bench-password-123",
                                    roles=["collector"])
        headers = {"Authorization": f"Bearer {create_access_token(identity=str(collector.id))}"}
        started = time.perf_counter()
        with open(audio, "rb") as fh:
            posted = app.test_client().post("/api/v1/materials", data={"file": (fh, audio.name), "title": "两小时口述史"},
                                            content_type="multipart/form-data", headers=headers)
        assert posted.status_code in (200, 201), posted.get_json()
        figures["process_s"] = time.perf_counter() - started
        material_id = posted.get_json()["id"]
        with transaction.atomic():
            job = Job(id=f"bench-{material_id}", kind="transcribe", status="running", material_id=material_id,
                      params={"engine": "faster-whisper", "model": "base"}, created_by_id=collector.id)
            db.session.add(job)
        result = TranscriptionResult(language="zh", language_probability=0.99, duration=seconds,
                                     engine="faster-whisper", model="base",
                                     segments=_segments(count, seconds, random.Random(7)))
        with transaction.atomic():
            material = db.session.get(Material, material_id)
            assert material.status == "ready" and material.derivative("waveform") is not None
            transcript_id = store_result(material, db.session.get(Job, job.id), result).id
        del editor
    return transcript_id, figures


def _context(browser: Any, base: str) -> Any:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN", base_url=base)
    answer = context.request.post(f"{base}/api/v1/auth/session",
                                  data={"username": "bench-editor", "password": "bench-password-123"})
    assert answer.status == 200, answer.text()
    return context


def _keystrokes(page: Any, selector: str, count: int = 40) -> list[float]:
    page.evaluate(KEYSTROKE_PROBE)
    page.locator(selector).click()
    page.keyboard.press("End")
    for i in range(count):
        page.keyboard.press(chr(ord("a") + i % 26))
        page.wait_for_timeout(30)
    page.wait_for_function(f"() => window.__keys.length >= {count}")
    return page.evaluate("() => window.__keys")


def _round(browser: Any, base: str, transcript_id: int, target: int, errors: list[str]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    context = _context(browser, base)
    page = context.new_page()
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/console/login")
    figures["login_load_ms"] = page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
    figures["json_fetch_ms"] = page.evaluate("""async (id) => {
        const started = performance.now();
        const body = await (await fetch(`/api/v1/transcripts/${id}`)).json();
        return [performance.now() - started, body.segments.length];
    }""", transcript_id)
    figures["reference_keys"] = _keystrokes(page, "#username")
    page.close()

    page = context.new_page()
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"/console/transcripts/{transcript_id}")
    page.wait_for_function("() => performance.getEntriesByName('liufang:waveform-drawn').length"
                           " && performance.getEntriesByName('liufang:interactive').length", timeout=60000)
    figures["interactive_ms"] = page.evaluate("() => performance.getEntriesByName('liufang:interactive')[0].startTime")
    figures["waveform_ms"] = page.evaluate("() => performance.getEntriesByName('liufang:waveform-drawn')[0].startTime")
    figures["segments"] = page.locator(".seg").count()
    figures["read_ms"] = page.evaluate("() => performance.getEntriesByName('liufang:transcript-read')[0].startTime")
    figures["rendering_ms"] = page.evaluate("() => performance.getEntriesByName('liufang:rendering')[0].startTime")
    page.evaluate(f"() => document.querySelector('#seg-{target}').scrollIntoView({{block: 'center'}})")
    figures["keys"] = _keystrokes(page, f"#seg-{target} .seg-input")
    page.close()
    context.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=ABOUT, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=120)
    parser.add_argument("--segments", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="liufang-console-bench-") as tmp:
        root = Path(tmp)
        app = create_app({"INSTANCE_PATH": str(root / "instance"), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'b.db'}",
                          "SECRET_KEY": "console-bench-secret-key-long-enough-for-hs256", "QUEUE_URL": "memory",
                          "QUEUE_IMMEDIATE": True, "STORAGE_URL": str(root / "media"), "AUTO_TRANSCRIBE": False,
                          "AUTO_OCR": False, "MULTIPART_MAX_SIZE": 512 * 1024**2})
        transcript_id, setup = _seed(app, root, args.minutes, args.segments)
        print(f"set-up: {args.minutes:g} min recording made in {setup['record_s']:.1f} s, processed (ASR audio, "
              f"proxy, waveform) in {setup['process_s']:.1f} s; transcript {transcript_id}, {args.segments} segments")
        server = Gunicorn(app, root, workers=2)  # the test helper's server: 2 workers
        server.start()
        errors: list[str] = []
        rounds = []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium, headless=True,
                                                     args=["--headless=new", "--no-sandbox", "--disable-gpu",
                                                           "--disable-dev-shm-usage"])
                _round(browser, server.base, transcript_id, args.segments // 2, errors)  # warm-up: server caches, bytecode
                for _ in range(args.rounds):
                    rounds.append(_round(browser, server.base, transcript_id, args.segments // 2, errors))
                browser.close()
        finally:
            server.stop()

    def series(key: str) -> list[float]:
        return [r[key] for r in rounds]

    keys = [k for r in rounds for k in r["keys"]]
    reference_keys = [k for r in rounds for k in r["reference_keys"]]
    fetch = [r["json_fetch_ms"][0] for r in rounds]
    print(f"segments rendered: {rounds[0]['segments']}; rounds: {args.rounds} (medians; each a new browser context)")
    print(f"{'measure':<58} {'median ms':>10} {'min':>8} {'max':>8}")
    for label, values in (
            ("reference: login page, navigation start → load event", series("login_load_ms")),
            (f"reference: GET /api/v1/transcripts/{{id}} fetched + parsed", fetch),
            ("transcript page: navigation start → transcript JSON read", series("read_ms")),
            ("transcript page: navigation start → segments rendering", series("rendering_ms")),
            ("transcript page: navigation start → interactive", series("interactive_ms")),
            ("transcript page: navigation start → waveform drawn", series("waveform_ms"))):
        print(f"{label:<58} {_median(values):>10.1f} {min(values):>8.1f} {max(values):>8.1f}")
    print(f"{'keystroke → next frame, login field (reference)':<58} {_median(reference_keys):>10.1f} "
          f"{min(reference_keys):>8.1f} {max(reference_keys):>8.1f}   p95 {_p95(reference_keys):.1f}")
    print(f"{f'keystroke → next frame, segment {args.segments // 2} of the transcript':<58} {_median(keys):>10.1f} "
          f"{min(keys):>8.1f} {max(keys):>8.1f}   p95 {_p95(keys):.1f}")
    if errors:
        print("console errors:", *errors[:10], sep="\n  ")
        sys.exit(1)


if __name__ == "__main__":
    main()
