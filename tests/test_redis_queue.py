"""Several worker processes on a Redis queue share the work: every job runs exactly once and succeeds."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from PIL import Image

from backend import create_app
from backend.extensions import db
from backend.models import Job, Material

LIUFANG = str(Path(sys.executable).parent / "liufang")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_url():
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is missing: run `make test` (it installs it)")
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="liufang-redis-")
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)  # real waiting: polling the redis-server process until it answers
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(workdir, ignore_errors=True)


def _photo(seed: int) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (seed * 7 % 256, seed * 13 % 256, 90)).save(buffer, "JPEG")
    buffer.seek(0)
    return buffer


def test_two_workers_on_redis_process_every_job_once(redis_url, tmp_path, monkeypatch):
    env = {"LIUFANG_INSTANCE_PATH": str(tmp_path / "instance"), "LIUFANG_QUEUE_URL": redis_url,
           "SECRET_KEY": "redis-queue-test-" + "k" * 32, "LIUFANG_AUTO_TRANSCRIBE": "false",
           "LIUFANG_AUTO_OCR": "false"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    full_env = {**os.environ, **env}
    subprocess.run([LIUFANG, "db", "upgrade"], env=full_env, check=True, capture_output=True, timeout=120)
    subprocess.run([LIUFANG, "users", "create", "field2", "--role", "collector", "--password-stdin"], env=full_env,
                   input="field-work-2026\n", text=True, check=True, capture_output=True, timeout=60)
    app = create_app()
    client = app.test_client()
    token = client.post("/api/v1/auth/login", json={"username": "field2", "password": "field-work-2026"}
                        ).get_json()["access_token"]
    ids = []
    for seed in range(12):
        response = client.post("/api/v1/materials", data={"file": (_photo(seed), f"照片{seed}.jpg")},
                               content_type="multipart/form-data", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["id"])
    workers = [subprocess.Popen([LIUFANG, "worker", "-w", "1", "--worker-type", "process", "--no-periodic"],
                                env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True) for _ in range(2)]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with app.app_context():
                done = db.session.query(Material).filter(Material.id.in_(ids), Material.status == "ready").count()
                db.session.remove()
            if done == len(ids):
                break
            time.sleep(0.3)  # real waiting: two separate worker processes do the jobs, on real time
        with app.app_context():
            jobs = db.session.query(Job).filter(Job.material_id.in_(ids)).all()
            assert len(jobs) == len(ids)
            not_once = [(job.material_id, job.status, job.attempts, job.error) for job in jobs
                        if not (job.status == "succeeded" and job.attempts == 1)]
            assert not_once == [], f"{done} of {len(ids)} materials ready"
            assert done == len(ids)
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
