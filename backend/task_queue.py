"""The task queue: a Huey instance built from config (SQLite file by default, Redis for several machines).

Unbound until ``init_app``; the tasks themselves are registered by ``backend.jobs.tasks.register``."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab

if TYPE_CHECKING:
    from flask import Flask


class TaskQueue:
    """Holds the app's Huey instance and its registered tasks; tasks run inside an app context."""

    def __init__(self) -> None:
        self.huey: Huey | None = None
        self._tasks: dict[str, Any] = {}

    def init_app(self, app: "Flask") -> None:
        self.huey = build_huey(app.config["QUEUE_URL"], immediate=app.config.get("QUEUE_IMMEDIATE", False))
        self._tasks = {}
        app.extensions["liufang_queue"] = self

    def task(self, app: "Flask", fn: Callable[..., Any], *, retries: int = 0, retry_delay: int = 0,
             **huey_options: Any) -> None:
        assert self.huey is not None

        @functools.wraps(fn)
        def in_app_context(*args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return fn(*args, **kwargs)

        self._tasks[fn.__name__] = self.huey.task(
            name=fn.__name__, retries=retries, retry_delay=retry_delay, **huey_options)(in_app_context)

    def periodic(self, app: "Flask", fn: Callable[[], Any], **schedule: str) -> None:
        assert self.huey is not None

        @functools.wraps(fn)
        def in_app_context() -> Any:
            with app.app_context():
                return fn()

        self._tasks[fn.__name__] = self.huey.periodic_task(crontab(**schedule), name=fn.__name__)(in_app_context)

    def enqueue(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Queue task ``name`` (arguments must be plain ids and values, never ORM objects)."""
        return self._tasks[name](*args, **kwargs)

    @property
    def task_names(self) -> list[str]:
        return sorted(self._tasks)


def build_huey(url: str, *, immediate: bool = False) -> Huey:
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("liufang", url=url, immediate=immediate)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey("liufang", filename=str(path), immediate=immediate)
    if url == "memory":
        return MemoryHuey("liufang", immediate=immediate)
    raise ValueError(f"unsupported LIUFANG_QUEUE_URL: {url!r} (use sqlite:///path or redis://host:port/db)")
