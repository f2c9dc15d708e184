"""Offline-sync benchmark: a full first sync and incremental syncs over seeded profiles, beside the list endpoint."""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask_jwt_extended import create_access_token  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, insert, select  # noqa: E402

from backend import create_app, transaction  # noqa: E402
from backend.extensions import db  # noqa: E402
from backend.models import Person  # noqa: E402
from backend.services import change_log  # noqa: E402
from backend.services.pinyin import name_pinyin  # noqa: E402
from backend.services.users import create_user  # noqa: E402
from tests.support.postgres import postgres_server  # noqa: E402

ABOUT = """\
Usage:  .venv/bin/python bench/sync_bench.py [--count 20000] [--limit 500] [--postgres | --database-url URL]

In process (Flask test client, no network), on a fresh SQLite file unless --database-url names an empty
PostgreSQL database (--postgres starts a throw-away one). Seeds --count profiles with SQLAlchemy Core (a third are
the collector's drafts, a third published profiles of another collector, a third that other collector's drafts,
which the collector may not see) and logs them with the change log's own writer. Then, as the collector:
- a full sync (GET /api/v1/sync in pages of --limit) beside the reference of reading the same profiles through
  GET /api/v1/persons (100 a page, the most it gives);
- profile PATCHes (after a warm-up edit of each), one at a time and from 8 threads at once, with the change log and,
  as the reference, with its session hooks removed;
- an incremental sync after those edits, and one with nothing new beside GET /api/health.
"""
HOOKS = ("before_flush", "after_flush", "do_orm_execute", "before_commit", "after_commit", "after_transaction_end")


def _seed(app: Any, count: int) -> dict[str, int]:
    with app.app_context():
        upgrade()
        with transaction.atomic():
            users = {name: create_user(None, username=name, password="bench-password-123", roles=["collector"]).id
                     for name in ("bench_collector", "bench_other")}
        rows = []
        for i in range(count):
            owner = users["bench_collector"] if i % 3 == 0 else users["bench_other"]
            status = "published" if i % 3 == 1 else "draft"
            name = f"张{'伟芳娜秀英敏静丽强磊'[i % 10]}{i}"
            rows.append({"category": "good_person", "name": name, "name_pinyin": name_pinyin(name), "status": status,
                         "created_by_id": owner, "biography": "数十年如一日照顾孤寡老人。" * 5})
        with db.engine.begin() as connection:
            for start in range(0, count, 5000):
                connection.execute(insert(Person.__table__), rows[start:start + 5000])
            ids = [row[0] for row in connection.execute(Person.__table__.select().with_only_columns(Person.id))]
            change_log.write(connection, {("person", person_id): "upsert" for person_id in ids})
        db.engine.dispose()
    return users


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@contextlib.contextmanager
def _change_log(installed: bool) -> Any:
    """The app as it is, or (the reference) without the change log's session hooks."""
    session_class = db.session.session_factory.class_
    if not installed:
        for name in HOOKS:
            event.remove(session_class, name, getattr(change_log, f"_{name}"))
    try:
        yield
    finally:
        if not installed:
            change_log.init_app(None)  # type: ignore[arg-type]


def _concurrent_patches(app: Any, ids: list[int], headers: dict[str, str], label: str, threads: int = 8) -> float:
    """PATCHes of distinct profiles from ``threads`` threads at once: PATCHes per second."""
    share = len(ids) // threads
    barrier = threading.Barrier(threads + 1)

    def work(mine: list[int]) -> None:
        client = app.test_client()
        barrier.wait()
        for person_id in mine:
            response = client.patch(f"/api/v1/persons/{person_id}", json={"native_place": f"{label}{person_id}"},
                                    headers=headers)
            assert response.status_code == 200, response.get_json()

    workers = [threading.Thread(target=work, args=(ids[i * share:(i + 1) * share],)) for i in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    return share * threads / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=ABOUT, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--database-url")
    parser.add_argument("--postgres", action="store_true", help="start a throw-away PostgreSQL and use it")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.postgres:
            args.database_url = stack.enter_context(postgres_server())
        run(args)


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        app = create_app({"INSTANCE_PATH": str(Path(folder) / "instance"), "SQLALCHEMY_DATABASE_URI": url,
                          "QUEUE_URL": "memory", "SECRET_KEY": "bench-secret-key-that-is-long-enough-for-hs256",
                          "STORAGE_URL": str(Path(folder) / "media"), "PASSWORD_HASH_PROFILE": "test"})
        seeded = time.perf_counter()
        users = _seed(app, args.count)
        engine = url.split(":")[0].split("+")[0]
        print(f"seeded {args.count} profiles in {time.perf_counter() - seeded:.1f} s ({engine})")
        with app.app_context():
            headers = {"Authorization": f"Bearer {create_access_token(identity=str(users['bench_collector']))}"}
        client = app.test_client()

        state: dict[str, Any] = {"cursor": None, "records": 0, "pages": 0}

        def full_sync() -> None:
            cursor = None
            while True:
                query: dict[str, Any] = {"limit": args.limit, **({"since": cursor} if cursor else {})}
                body = client.get("/api/v1/sync", query_string=query, headers=headers).get_json()
                state["records"] += len(body["changes"])
                state["pages"] += 1
                cursor = body["cursor"]
                if not body["has_more"]:
                    state["cursor"] = cursor
                    return

        listed = {"records": 0, "pages": 0}

        def list_all() -> None:
            page = 1
            while True:
                body = client.get(f"/api/v1/persons?per_page=100&page={page}&sort=created",
                                  headers=headers).get_json()
                listed["records"] += len(body["items"])
                listed["pages"] += 1
                if page * 100 >= body["total"]:
                    return
                page += 1

        sync_seconds = _timed(full_sync)
        list_seconds = _timed(list_all)
        assert state["records"] == listed["records"], (state, listed)
        print(f"full sync        {state['records']} records, {state['pages']} pages of {args.limit}: "
              f"{sync_seconds:.2f} s ({state['records'] / sync_seconds:.0f} records/s)")
        print(f"reference list   {listed['records']} records, {listed['pages']} pages of 100: {list_seconds:.2f} s "
              f"({listed['records'] / list_seconds:.0f} records/s); sync/list time {sync_seconds / list_seconds:.2f}x")

        with app.app_context():
            own = list(db.session.scalars(select(Person.id).where(
                Person.created_by_id == users["bench_collector"]).limit(400)))
            db.session.remove()
        health = [_timed(lambda: client.get("/api/health")) for _ in range(200)]
        h50 = statistics.median(health) * 1000
        for person_id in own:  # warm-up: the first edit of a seeded profile also builds its search terms
            client.patch(f"/api/v1/persons/{person_id}", json={"occupation": "热身"}, headers=headers)
        rounds = (("with the change log", True), ("hooks removed (ref)", False), ("with the change log", True))
        for number, (label, logged) in enumerate(rounds):
            with _change_log(logged):
                serial = [_timed(lambda: client.patch(f"/api/v1/persons/{person_id}", json={"occupation": f"木匠{number}"},
                                                      headers=headers)) for person_id in own[:200]]
                rate = _concurrent_patches(app, own, headers, str(number))
            p50 = statistics.median(serial) * 1000
            print(f"PATCH {label}: p50 {p50:.2f} ms one at a time ({p50 / h50:.1f}x health p50 {h50:.2f} ms); "
                  f"8 threads: {rate:.0f} PATCH/s")

        since = state["cursor"]
        incremental = _timed(lambda: client.get("/api/v1/sync", query_string={"since": since, "limit": args.limit},
                                                headers=headers))
        body = client.get("/api/v1/sync", query_string={"since": since, "limit": args.limit}, headers=headers).get_json()
        quiet = statistics.median(_timed(lambda: client.get("/api/v1/sync", query_string={"since": body["cursor"]},
                                                            headers=headers)) for _ in range(20))
        print(f"incremental sync {len(body['changes'])} changes after the PATCHes: {incremental * 1000:.1f} ms; "
              f"nothing new: p50 {quiet * 1000:.2f} ms ({quiet * 1000 / h50:.1f}x health)")


if __name__ == "__main__":
    main()
