"""The migration that adds the change log starts it with every record that already exists, so the first sync after
an upgrade finds them, and the app numbers later changes after them."""

from __future__ import annotations

from typing import Any

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from backend import create_app, transaction
from backend.extensions import db
from backend.models import Interview, Material, Notification, Person, SyncChange, SyncState, User
from backend.services import sync as sync_service

BEFORE_SYNC = "974fc81c9f31"  # the revision just before the change log (5e1f0c2a9b7d)


@pytest.fixture
def old_database(tmp_path: Any) -> Any:
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "QUEUE_URL": "memory",
                      "SECRET_KEY": "test-secret-key-that-is-long-enough-for-hs256",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.db'}",
                      "STORAGE_URL": str(tmp_path / "media")})
    with app.app_context():
        upgrade(revision=BEFORE_SYNC)
        # Plain INSERTs on a connection (the app's session would write the change log, which does not exist yet).
        with db.engine.begin() as connection:
            user_id = connection.execute(User.__table__.insert().values(
                username="old-collector", password_hash="x", roles=["collector"])).inserted_primary_key[0]
            person_ids = [connection.execute(Person.__table__.insert().values(
                category="good_person", name=name, created_by_id=user_id)).inserted_primary_key[0]
                for name in ("老档案一", "老档案二")]
            connection.execute(Interview.__table__.insert().values(title="老访谈", created_by_id=user_id))
            connection.execute(Notification.__table__.insert().values(
                user_id=user_id, kind="person_returned", entity_type="person", entity_id=str(person_ids[0]),
                message="旧通知"))
    yield app, user_id, person_ids
    with app.app_context():
        db.engine.dispose()


def test_upgrade_puts_existing_records_in_the_log(old_database):
    app, user_id, person_ids = old_database
    with app.app_context():
        upgrade()
        logged = db.session.execute(select(SyncChange.entity_type, SyncChange.entity_id, SyncChange.seq)
                                    .order_by(SyncChange.seq)).all()
        assert {(row.entity_type, row.entity_id) for row in logged} == {
            ("person", person_ids[0]), ("person", person_ids[1]), ("interview", 1), ("notification", 1)}
        state = db.session.get(SyncState, 1)
        assert state.last_seq == len(logged) == logged[-1].seq and len(state.epoch) == 32
        assert db.session.scalar(select(Material.id)) is None

        collector = db.session.get(User, user_id)
        page = sync_service.changes_since(collector, None)
        assert {(change.type, change.id) for change in page.changes} == {
            (row.entity_type, row.entity_id) for row in logged}
        with transaction.atomic():
            db.session.get(Person, person_ids[0]).occupation = "升级后改的"
        assert db.session.get(SyncChange, ("person", person_ids[0])).seq == len(logged) + 1
        [change] = sync_service.changes_since(collector, page.cursor).changes
        assert (change.type, change.id, change.record.occupation) == ("person", person_ids[0], "升级后改的")
        db.session.remove()
