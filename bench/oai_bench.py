"""OAI-PMH benchmark: the ledger's first fill and its refresh after edits, and harvest pages, beside the public list."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert, select, update  # noqa: E402

from backend import create_app, transaction  # noqa: E402
from backend.extensions import db  # noqa: E402
from backend.models import AuditEvent, Consent, Person  # noqa: E402
from backend.services import change_log  # noqa: E402
from backend.services import oai as oai_service  # noqa: E402
from backend.services.pinyin import name_pinyin  # noqa: E402
from backend.services.users import create_user  # noqa: E402
from tests.support.postgres import postgres_server  # noqa: E402

ABOUT = """\
Usage:  .venv/bin/python bench/oai_bench.py [--count 5000] [--edits 100] [--postgres | --database-url URL]

In process (Flask test client), on a fresh SQLite file unless --database-url names an empty PostgreSQL database
(--postgres starts a throw-away one). Seeds --count published, consented profiles (SQLAlchemy Core, each with its
creation and publication in the audit trail, all in the change log). Measures:
- the first refresh of the OAI-PMH ledger (every public record read, its oai_dc and EAC-CPF made and hashed), as
  records per second;
- a refresh after --edits profiles changed (biography), and one with nothing new;
- harvest pages of 100: ListIdentifiers, ListRecords oai_dc, ListRecords eac_cpf (medians of 5, resuming mid-list),
  beside the reference GET /api/public/persons?per_page=100 in the same run.
"""


def _seed(app: Any, count: int) -> None:
    with app.app_context():
        upgrade()
        with transaction.atomic():
            owner = create_user(None, username="bench_archivist", password="bench-password-123",
                                roles=["archivist"]).id
        people, consents, events = [], [], []
        for i in range(count):
            name = f"林{'海秀文德玉'[i % 5]}{'生英华明兰'[(i // 5) % 5]}{i}"
            people.append({"id": i + 1, "category": ("good_person", "notable", "local_worthy")[i % 3],
                           "name": name, "name_pinyin": name_pinyin(name), "status": "published",
                           "created_by_id": owner, "gender": "female", "area_district": "连云区",
                           "native_place": "江苏赣榆", "occupation": "灯塔看守人", "birth_date": "1938-05",
                           "honours": [{"title": "中国好人", "year": 2019}], "aliases": ["林老"],
                           "biography": "五十年守护海岛灯塔。\n\n退休后义务讲述海岛历史。" * 3})
            consents.append({"person_id": i + 1, "scope": "public", "signed_at": date(2025, 5, 1),
                             "created_by_id": owner, "interview_scoped": False})
            events += [{"entity_type": "person", "entity_id": str(i + 1), "action": action, "actor_id": owner,
                        "changes": {}} for action in ("create", "approve", "publish")]
        with db.engine.begin() as connection:
            for start in range(0, count, 2000):
                connection.execute(insert(Person.__table__), people[start:start + 2000])
                connection.execute(insert(Consent.__table__), consents[start:start + 2000])
            for start in range(0, len(events), 6000):
                connection.execute(insert(AuditEvent.__table__), events[start:start + 6000])
            change_log.write(connection, {("person", i + 1): "upsert" for i in range(count)})
        db.engine.dispose()


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _refresh(app: Any) -> None:
    with app.app_context(), app.test_request_context(), transaction.atomic():
        oai_service.refresh()


def _check(app: Any) -> None:
    with app.app_context(), transaction.atomic():
        assert oai_service.is_current()


def _median_ms(fn: Any, rounds: int = 5) -> float:
    fn()  # warm-up
    return statistics.median(_timed(fn) for _ in range(rounds)) * 1000


def run(database_url: str, count: int, edits: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench-secret-key-long-enough-0123",
                          "INSTANCE_PATH": folder, "QUEUE_URL": "memory", "STORAGE_URL": f"{folder}/media",
                          "PUBLIC_RATE_LIMIT": "off", "OAI_PAGE_SIZE": 100})
        _seed(app, count)
        first = _timed(lambda: _refresh(app))
        print(f"first refresh: {count} profiles in {first:.2f} s ({count / first:,.0f} records/s)")
        with app.app_context():
            with transaction.atomic():
                db.session.execute(update(Person).where(Person.id <= edits).values(biography="新的生平。", version=2))
                # a bulk UPDATE goes through the session: the change log notes every profile it touched
        after_edits = _timed(lambda: _refresh(app))
        print(f"refresh after {edits} edited profiles: {after_edits * 1000:.1f} ms "
              f"({edits / after_edits:,.0f} records/s)")
        print(f"nothing new: the check every request makes {_median_ms(lambda: _check(app)):.2f} ms, "
              f"a refresh (locks, finds nothing) {_median_ms(lambda: _refresh(app)):.2f} ms")

        client = app.test_client()
        reference = _median_ms(lambda: client.get("/api/public/persons?per_page=100&page=3"))
        first_page = client.get("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc").get_data(as_text=True)
        token = first_page.split('cursor="0"', 1)[1].split(">", 1)[1].split("<", 1)[0]
        rows = [("GET /api/public/persons?per_page=100 (reference)", reference),
                ("ListIdentifiers, a page of 100 (resumed)",
                 _median_ms(lambda: client.get(f"/oai?verb=ListIdentifiers&resumptionToken={token}"))),
                ("ListRecords oai_dc, 100 records",
                 _median_ms(lambda: client.get("/oai?verb=ListRecords&metadataPrefix=oai_dc"))),
                ("ListRecords eac_cpf, 100 records",
                 _median_ms(lambda: client.get("/oai?verb=ListRecords&metadataPrefix=eac_cpf")))]
        for label, ms in rows:
            print(f"{label:55s} {ms:8.1f} ms  ×{ms / reference:.2f}")
        with app.app_context():
            live, deleted = oai_service.totals()
            assert live == count and deleted == 0, (live, deleted)
            assert db.session.scalar(select(Person.id).limit(1)) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=ABOUT, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    if args.postgres:
        with postgres_server() as url:
            run(url, args.count, args.edits)
    elif args.database_url:
        run(args.database_url, args.count, args.edits)
    else:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{folder}/bench.db", args.count, args.edits)


if __name__ == "__main__":
    main()
