"""A real worker process killed mid-transcription: the job runs again on restart and exactly one transcript
results; a running job can be cancelled."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from backend import create_app
from backend.extensions import db
from backend.models import Job, Transcript

pytestmark = pytest.mark.slow
LIUFANG = str(Path(sys.executable).parent / "liufang")


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory, shared_audio) -> Path:
    """Over two minutes of real Mandarin: the reference sentences (AISHELL clips of several speakers) twice over, with
    pauses. Different sentences, as in an interview: one sentence said a dozen times over makes Whisper fall back to
    decoding again at higher temperatures (a minute of it took 49 s; these two minutes take 13 s on the same CPU)."""
    out = tmp_path_factory.mktemp("long") / "interview.wav"
    with open(shared_audio / "references.tsv", encoding="utf-8", newline="") as fh:
        clips = sorted(row["file"] for row in csv.DictReader(fh, delimiter="\t") if row["language"] == "zh") * 2
    assert len(clips) >= 20, clips
    inputs, filters = [], []
    for i, clip in enumerate(clips):
        inputs += ["-i", str(shared_audio / clip)]
        filters.append(f"[{i}:a]apad=pad_dur=1[a{i}]")
    graph = (";".join(filters) + ";" + "".join(f"[a{i}]" for i in range(len(clips)))
             + f"concat=n={len(clips)}:v=0:a=1[out]")
    subprocess.run(["ffmpeg", "-loglevel", "error", *inputs, "-filter_complex", graph, "-map", "[out]",
                    "-ar", "16000", "-ac", "1", str(out)], check=True)
    return out


@pytest.fixture
def instance(tmp_path, model_cache) -> Iterator[dict[str, Any]]:
    env = {**os.environ, "LIUFANG_INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "worker-test-secret" * 3,
           "LIUFANG_MODEL_CACHE": str(model_cache), "LIUFANG_JOB_STALE_SECONDS": "3",
           "LIUFANG_AUTO_TRANSCRIBE": "true"}
    env.pop("DATABASE_URL", None)
    env.pop("LIUFANG_QUEUE_URL", None)
    subprocess.run([LIUFANG, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    subprocess.run([LIUFANG, "users", "create", "field1", "--role", "collector", "--password-stdin"], env=env,
                   input="field-work-2026\n", text=True, check=True, capture_output=True, timeout=60)
    workers: list[subprocess.Popen[bytes]] = []

    def start_worker() -> subprocess.Popen[bytes]:
        worker = subprocess.Popen([LIUFANG, "worker", "-w", "1", "--worker-type", "thread", "--no-periodic"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        workers.append(worker)
        return worker

    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        app = create_app({"PASSWORD_HASH_PROFILE": "default"})
        yield {"app": app, "start_worker": start_worker}
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()


def _login(client) -> dict[str, str]:
    token = client.post("/api/v1/auth/login", json={"username": "field1", "password": "field-work-2026"}
                        ).get_json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _wait(app, predicate, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            value = predicate()
            db.session.remove()
        if value:
            return value
        time.sleep(0.3)  # real waiting: a separate worker process does the work, on real time
    raise AssertionError(f"timed out waiting for {what}")


def _transcribe_job(material_id: int):  # type: ignore[no-untyped-def]
    return db.session.query(Job).filter_by(material_id=material_id, kind="transcribe").one_or_none()


def test_killed_worker_job_runs_again_and_yields_one_transcript(instance, long_speech):
    app, start_worker = instance["app"], instance["start_worker"]
    client = app.test_client()
    with open(long_speech, "rb") as fh:
        material = client.post("/api/v1/materials", data={"file": (fh, "访谈.wav")}, content_type="multipart/form-data",
                               headers=_login(client)).get_json()
    first = start_worker()
    job = _wait(app, lambda: (j := _transcribe_job(material["id"])) and j.status == "running" and j.progress > 0
                and (j.id, j.progress), 180, "transcription to make progress")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    with app.app_context():
        assert db.session.get(Job, job[0]).status == "running", "killed mid-job"
        # The heartbeat goes stale (LIUFANG_JOB_STALE_SECONDS=3): the dead worker's last beat is made 3.5 s older
        # rather than waited for. Nothing else writes the row meanwhile, and the worker started next is a separate
        # process on real time, so backend.clock cannot move its "now"; ageing the row is the same as waiting.
        row = db.session.get(Job, job[0])
        row.heartbeat_at -= timedelta(seconds=3.5)
        db.session.commit()
    start_worker()
    done = _wait(app, lambda: (j := db.session.get(Job, job[0])) and j.status in ("succeeded", "failed")
                 and (j.status, j.attempts, j.progress, j.error), 240, "the job to finish after restart")
    assert done[0] == "succeeded", done
    assert done[1] == 2 and done[2] == 100.0
    with app.app_context():
        assert db.session.query(Transcript).filter_by(material_id=material["id"]).count() == 1


def test_running_transcription_can_be_cancelled(instance, long_speech):
    app, start_worker = instance["app"], instance["start_worker"]
    client = app.test_client()
    headers = _login(client)
    with open(long_speech, "rb") as fh:
        material = client.post("/api/v1/materials", data={"file": (fh, "访谈.wav")}, content_type="multipart/form-data",
                               headers=headers).get_json()
    start_worker()
    job_id = _wait(app, lambda: (j := _transcribe_job(material["id"])) and j.status == "running" and j.progress > 0
                   and j.id, 180, "transcription to start")
    cancelled = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.get_json()["cancel_requested"] is True
    final = _wait(app, lambda: (j := db.session.get(Job, job_id)) and j.status != "running" and j.status, 120,
                  "the job to stop")
    assert final == "cancelled"
    with app.app_context():
        assert db.session.query(Transcript).filter_by(material_id=material["id"]).count() == 0
