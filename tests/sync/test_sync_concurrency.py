"""No change is skipped under concurrent writers, on SQLite and PostgreSQL: a transaction that has its change number
but has not committed yet holds back every later one, so a phone that syncs meanwhile gets a cursor below it and
receives it on its next sync. And a phone paging while several writers edit ends up equal to the server."""

from __future__ import annotations

import random
import threading
from typing import Any, Callable

import pytest
from sqlalchemy import event, text

from backend import transaction
from backend.errors import LiufangError
from backend.extensions import db
from backend.models import SyncChange, User
from backend.services import persons as person_service
from tests.api.helpers import make_person
from tests.sync.phone import Phone

pytestmark = pytest.mark.both_databases  # PostgreSQL's row lock vs SQLite's one writer

WAIT = 60  # seconds a thread may wait for the other side before the test gives up


def _edit(app: Any, user_id: int, person_id: int, occupation: str, started: threading.Event | None = None) -> None:
    with app.app_context():
        actor = db.session.get(User, user_id)
        if started is not None:
            started.set()
        with transaction.atomic():
            person_service.update_person(actor, person_id, {"occupation": occupation}, expected_version=None)
        db.session.remove()


def _in_thread(target: Callable[..., None], *args: Any) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target(*args)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def _blocked_on_the_log(app: Any, done: threading.Event) -> None:
    """Wait until the second writer waits for the first one's change-log lock (PostgreSQL shows it) or is done."""
    with app.app_context():
        for _ in range(WAIT * 20):
            if done.is_set():
                return
            waiting = db.session.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%sync_state%'"))
            db.session.rollback()
            if waiting:
                return
            done.wait(0.05)
    raise AssertionError("the second writer neither waited nor finished")


def test_a_change_numbered_first_but_committed_late_is_not_skipped(app, client, auth, users):
    first = make_person(client, auth("collector"), name="先拿号的")
    second = make_person(client, auth("collector"), name="后拿号的")
    phone = Phone(client, auth("collector"))
    phone.sync()

    writer_a: threading.Thread | None = None
    writer_b: threading.Thread | None = None
    a_numbered, release_a, b_started, b_done = (threading.Event() for _ in range(4))

    def hold_a_before_commit(_session: Any) -> None:
        # Listens after the change log's own before_commit hook: A has its numbers and keeps them, uncommitted.
        if threading.current_thread() is writer_a:
            a_numbered.set()
            assert release_a.wait(WAIT), "the test never let writer A commit"

    with app.app_context():
        dialect = db.engine.dialect.name
    session_class = db.session.session_factory.class_
    event.listen(session_class, "before_commit", hold_a_before_commit)
    try:
        writer_a, a_errors = _in_thread(_edit, app, users["collector"], first["id"], "A 的修改")
        assert a_numbered.wait(WAIT)

        def edit_b() -> None:
            try:
                _edit(app, users["collector"], second["id"], "B 的修改", b_started)
            finally:
                b_done.set()

        writer_b, b_errors = _in_thread(edit_b)
        assert b_started.wait(WAIT)
        if dialect == "postgresql":
            _blocked_on_the_log(app, b_done)
        # B has written its profile (PostgreSQL) or waits for the database lock (SQLite): B cannot commit before A.
        assert not b_done.is_set(), "a later writer committed while an earlier one still held its number"
        during = phone.sync()
        assert during == [], "nothing was committed yet"
        cursor_during = phone.cursor
    finally:
        release_a.set()
        for writer in (writer_a, writer_b):
            if writer is not None:
                writer.join(WAIT)
        # Only once no thread is inside a commit (SQLAlchemy's listener lists are not for changing meanwhile).
        event.remove(session_class, "before_commit", hold_a_before_commit)
    assert not a_errors and not b_errors, (a_errors, b_errors)

    received = {c["id"]: c["data"]["occupation"] for c in phone.sync() if c["type"] == "person"}
    assert received == {first["id"]: "A 的修改", second["id"]: "B 的修改"}
    assert phone.cursor != cursor_during
    with app.app_context():
        numbers = dict(db.session.execute(
            db.select(SyncChange.entity_id, SyncChange.seq).where(SyncChange.entity_type == "person")).all())
    assert numbers[first["id"]] < numbers[second["id"]], "A took its number first"


WRITERS, EDITS = 4, 12


def test_a_phone_paging_during_concurrent_edits_ends_equal_to_the_server(app, client, auth, users):
    ids = [make_person(client, auth("collector"), name=f"并发{i}")["id"] for i in range(20)]
    failures: list[BaseException] = []

    def writer(seed: int) -> None:
        chooser = random.Random(seed)
        for edit in range(EDITS):
            try:
                _edit(app, users["collector"], chooser.choice(ids), f"写者{seed}第{edit}次")
            except LiufangError:
                pass  # two writers raced for one profile: the loser is told 412, as a phone would be
            except BaseException as exc:  # noqa: BLE001
                failures.append(exc)
                return

    phone = Phone(client, auth("collector"), limit=3)
    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(WRITERS)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        phone.page()
    for thread in threads:
        thread.join(WAIT)
    assert not failures, failures
    phone.sync()

    listing = client.get("/api/v1/persons?per_page=100", headers=auth("collector")).get_json()["items"]
    assert phone.of_type("person") == {item["id"]: item for item in listing}
