"""The unit of work: services only flush; one ``atomic()`` per request, job run or command commits, once.

Side effects that must not happen for a change that is rolled back (queue messages, above all) are registered
with ``on_commit`` and run after the commit that made the change durable, never after a rollback.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from backend.extensions import db

log = logging.getLogger(__name__)

_CALLBACKS = "liufang_on_commit"
_DEPTH = "liufang_atomic_depth"
_WROTE = "liufang_flushed"


def on_commit(callback: Callable[[], Any]) -> None:
    """Run ``callback`` once the current transaction commits; drop it if the transaction rolls back."""
    db.session.info.setdefault(_CALLBACKS, []).append(callback)


@contextmanager
def atomic() -> Iterator[None]:
    """The boundary of one unit of work: commit at the end, roll back everything on any exception.

    Nested ``atomic()`` blocks join the outermost one (only it commits), so a command or test may wrap service
    calls that a view would also wrap.
    """
    session = db.session()
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        yield
        if depth == 0:
            session.commit()
    except BaseException as exc:
        if depth == 0:
            session.rollback()
            follow_up = getattr(exc, "follow_up", None)
            if follow_up is not None:
                _run_follow_up(follow_up)
        raise
    finally:
        session.info[_DEPTH] = depth


def _run_follow_up(follow_up: Callable[[], None]) -> None:
    session = db.session()
    session.info[_DEPTH] = 1
    try:
        follow_up()
        session.commit()
    except Exception:  # the original error is what the caller hears about
        session.rollback()
        log.exception("recording the outcome of a failed unit of work failed")
    finally:
        session.info[_DEPTH] = 0


def rollback() -> None:
    """Abandon the unit of work (its changes and its on-commit callbacks)."""
    try:
        db.session.rollback()
    except Exception:  # pragma: no cover - the connection may already be gone
        log.exception("rollback failed")


def end_read_only() -> None:
    """End a transaction that has only read, before a long wait (a request body streaming in), so that no
    connection or snapshot is held meanwhile. Refuses if anything was written or is pending."""
    session = db.session()
    if session.new or session.dirty or session.deleted or session.info.get(_WROTE) or session.info.get(_CALLBACKS):
        raise RuntimeError("end_read_only() called with unsaved changes in the unit of work")
    session.rollback()


def _after_flush(session: Session, _context: Any) -> None:
    session.info[_WROTE] = True


def _after_commit(session: Session) -> None:
    session.info.pop(_WROTE, None)
    callbacks = session.info.pop(_CALLBACKS, [])
    for callback in callbacks:
        try:
            callback()
        except Exception:  # the change is committed; a failed side effect must not turn it into an error
            log.exception("on-commit callback %r failed", callback)


def _after_rollback(session: Session) -> None:
    session.info.pop(_WROTE, None)
    session.info.pop(_CALLBACKS, None)


def init_app(_app: Flask) -> None:
    """Install the session hooks (once per process: they apply to every Flask-SQLAlchemy session)."""
    session_class = db.session.session_factory.class_
    for name, hook in (("after_flush", _after_flush), ("after_commit", _after_commit),
                       ("after_soft_rollback", _after_soft_rollback)):
        if not event.contains(session_class, name, hook):
            event.listen(session_class, name, hook)


def _after_soft_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction ended: nothing of it will commit
        _after_rollback(session)
