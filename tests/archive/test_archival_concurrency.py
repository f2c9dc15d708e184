"""No gaps and no duplicates under concurrent approvals, with real concurrent transactions on SQLite and PostgreSQL:
an approval that has taken its number holds the series' counter row until it ends, so a second approval waits for
it; if the first rolls back, its number goes to the second (no gap), and if it commits, the second takes the next."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, text

from backend import transaction
from backend.extensions import db
from backend.models import Person, User
from backend.services import persons as person_service
from tests.api.helpers import advance, make_person

pytestmark = pytest.mark.both_databases  # PostgreSQL's row lock vs SQLite's one writer

WAIT = 60
YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year


class Abandon(Exception):
    """Raised by writer A to roll its approval back."""


def _approve(app: Any, archivist_id: int, person_id: int, started: threading.Event | None = None) -> str:
    with app.app_context():
        actor = db.session.get(User, archivist_id)
        if started is not None:
            started.set()
        try:
            with transaction.atomic():
                version = db.session.get(Person, person_id).version
                person = person_service.transition(actor, person_id, "approve", expected_version=version)
                return person.archival_code
        finally:
            db.session.remove()


def _in_thread(target: Callable[..., Any], *args: Any) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(target(*args))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _waits_on_the_counter(app: Any, done: threading.Event) -> None:
    """Until B waits for A's lock on the counter row (PostgreSQL shows it) or is done."""
    with app.app_context():
        for _ in range(WAIT * 20):
            if done.is_set():
                return
            waiting = db.session.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%archival_counters%'"))
            db.session.rollback()
            if waiting:
                return
            done.wait(0.05)
    raise AssertionError("the second approval neither waited nor finished")


@pytest.mark.parametrize("first_outcome", ["rolled_back", "committed"])
def test_a_second_approval_waits_for_the_first_and_takes_the_next_number(app, client, auth, users, first_outcome):
    a_person = make_person(client, auth("collector"), name="先审的")
    b_person = make_person(client, auth("collector"), name="后审的")
    for person in (a_person, b_person):
        advance(client, person["id"], auth("collector"), "submit")

    writer_a: threading.Thread | None = None
    a_numbered, release_a, b_started, b_done = (threading.Event() for _ in range(4))

    def hold_a(_session: Any) -> None:
        if threading.current_thread() is writer_a:
            a_numbered.set()
            assert release_a.wait(WAIT), "the test never let writer A finish"
            if first_outcome == "rolled_back":
                raise Abandon()

    with app.app_context():
        dialect = db.engine.dialect.name
    session_class = db.session.session_factory.class_
    event.listen(session_class, "before_commit", hold_a)
    writer_b = None
    try:
        writer_a, a_out = _in_thread(_approve, app, users["archivist"], a_person["id"])
        assert a_numbered.wait(WAIT)

        def approve_b() -> str:
            try:
                return _approve(app, users["archivist"], b_person["id"], b_started)
            finally:
                b_done.set()

        writer_b, b_out = _in_thread(approve_b)
        assert b_started.wait(WAIT)
        if dialect == "postgresql":
            _waits_on_the_counter(app, b_done)
        assert not b_done.is_set(), "the second approval went ahead while the first held the series"
    finally:
        release_a.set()
        for writer in (writer_a, writer_b):
            if writer is not None:
                writer.join(WAIT)
        event.remove(session_class, "before_commit", hold_a)

    if first_outcome == "rolled_back":
        assert len(a_out) == 1 and isinstance(a_out[0], Abandon)
        assert b_out == [f"LYG-RW-{YEAR}-0001"], "the number A gave back went to B: no gap"
        a_now = client.get(f"/api/v1/persons/{a_person['id']}", headers=auth("editor")).get_json()
        assert a_now["status"] == "submitted" and a_now["archival_code"] is None
    else:
        assert a_out == [f"LYG-RW-{YEAR}-0001"] and b_out == [f"LYG-RW-{YEAR}-0002"]


RACERS = 8


def test_many_simultaneous_approvals_number_the_series_without_gaps_or_duplicates(app, client, auth, users):
    ids = [make_person(client, auth("collector"), name=f"并发{i}")["id"] for i in range(RACERS)]
    for person_id in ids:
        advance(client, person_id, auth("collector"), "submit")
    barrier = threading.Barrier(RACERS)

    def approve(person_id: int) -> str:
        barrier.wait(WAIT)
        return _approve(app, users["archivist"], person_id)

    threads = [_in_thread(approve, person_id) for person_id in ids]
    for thread, _ in threads:
        thread.join(WAIT * 2)
    codes = [outcome[0] for _, outcome in threads]
    assert all(isinstance(code, str) for code in codes), codes
    assert sorted(codes) == [f"LYG-RW-{YEAR}-{n:04d}" for n in range(1, RACERS + 1)]
