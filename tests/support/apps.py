"""A second app object on the test's database (as another API process would be), built by the real factory with a
setting or two of its own (``TRUSTED_PROXIES``: ProxyFix is wired when the app is built)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from flask import Flask

from backend import create_app
from backend.extensions import db, queue
from backend.jobs import tasks

# What a second app shares with the test's app: its database, secret key, storage and the test profile.
_SHARED_KEYS = ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "STORAGE_URL", "PASSWORD_HASH_PROFILE", "QUEUE_URL",
                "QUEUE_IMMEDIATE", "AUTO_TRANSCRIBE", "AUTO_OCR", "TESTING", "PUBLIC_RATE_LIMIT", "LOGIN_WINDOW",
                "LOGIN_MAX_FAILURES", "LOGIN_CLIENT_MAX_FAILURES")


@contextmanager
def another_app(app: Flask, tmp_path: Path, **config: Any) -> Iterator[Flask]:
    """``with another_app(app, tmp_path, TRUSTED_PROXIES=1) as other:`` an app like ``app`` (same database),
    built by ``create_app`` with ``config`` on top; disposed of afterwards, and the queue bound to ``app`` again."""
    settings = {key: app.config[key] for key in _SHARED_KEYS if key in app.config}
    settings.update(INSTANCE_PATH=str(tmp_path / f"other-instance-{len(list(tmp_path.iterdir()))}"), **config)
    other = create_app(settings)
    try:
        yield other
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()
        queue.init_app(app)  # create_app bound the process's queue to the new app
        tasks.register(queue, app)
