"""Task definitions: each one passes ids to a service and lets the service own the work and the transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.services import housekeeping

if TYPE_CHECKING:
    from flask import Flask

    from backend.jobs.queue import TaskQueue


def purge_expired_records() -> None:
    housekeeping.purge_expired()


def register(queue: "TaskQueue", app: "Flask") -> None:
    queue.periodic(app, purge_expired_records, minute="17")
