"""The app under a real gunicorn with the production settings (scripts/gunicorn.conf.py: gevent workers), in its own
process group, sharing the test's database, secret key and storage."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "scripts" / "gunicorn.conf.py"


class Gunicorn:
    """``Gunicorn(app, tmp_path, workers=2)``; ``start()`` waits until /api/health answers."""

    def __init__(self, app: Any, tmp_path: Path, *, workers: int = 2) -> None:
        self.workers = workers
        self.env = {
            **os.environ,
            "LIUFANG_INSTANCE_PATH": app.instance_path,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            "LIUFANG_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",  # queued, no worker: jobs wait
            "LIUFANG_STORAGE_URL": app.config["STORAGE_URL"],
        }
        self.log = open(tmp_path / "gunicorn.log", "ab")
        self.process: subprocess.Popen[bytes] | None = None
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(self.workers)],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/api/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise AssertionError("gunicorn did not come up: " + self.output()[-3000:])

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8", errors="replace")

    def kill9(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """Graceful stop (TERM); a connection a test left open (a cut-off upload, a keep-alive) would hold that for
        the config's graceful_timeout, so after a while quick shutdown (QUIT), then KILL."""
        if self.process is not None:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGQUIT, 10), (signal.SIGKILL, 10)):
                if self.process.poll() is not None:
                    break
                os.killpg(self.process.pid, sig)
                try:
                    self.process.wait(wait)
                except subprocess.TimeoutExpired:
                    continue
        self.log.close()
