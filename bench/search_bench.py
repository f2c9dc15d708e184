"""Search benchmark: p95 of GET /api/v1/search and /api/public/search over up to 1,000,000 transcript segments and
100,000 profiles, beside GET /api/health in the same run; index size and build rate."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask_jwt_extended import create_access_token  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import text  # noqa: E402

from backend import create_app, transaction  # noqa: E402
from backend.extensions import db  # noqa: E402
from backend.services import change_log, search_index  # noqa: E402
from backend.services.pinyin import name_pinyin  # noqa: E402
from backend.services.users import create_user  # noqa: E402
from tests.support.postgres import postgres_server  # noqa: E402

ABOUT = """\
Usage:  .venv/bin/python bench/search_bench.py [--segments 1000000] [--persons 100000] [--steps 10000,100000]
                                              [--queries 40] [--postgres | --database-url URL]

In process (Flask test client, no network), on a fresh SQLite file unless --database-url names an empty
PostgreSQL database (--postgres starts a throw-away one). Seeds --persons profiles (60 % published with a public
consent) and, step by step up to --segments, transcript segments of 500 per recording (60 % of the recordings open,
half of the transcripts approved, one recording in ten the benchmark collector's own), their text drawn from a
character model of oral-history Mandarin with a long tail of rarer characters, all with bulk SQL; then builds the
whole index at the first step (`liufang search reindex`'s code) and indexes the segments added by each later
step in bulk (search_index.append_segments), and times both. Queries are drawn from the seeded text:
1, 2 and 4 characters and two 2-character words; each is sent as a collector (visibility: own and open materials,
own and published profiles) and to the public search (approved transcripts of public recordings, no redacted
segment, public profiles), beside GET /api/health, in rounds after a warm-up.
"""

SEED = (
    "我是一九四九年出生在连岛的，家里祖祖辈辈都是打鱼的。小时候日子很苦，一家七口人住在两间草房里，"
    "父亲天不亮就出海，母亲在家织网补网。那时候没有机器船，全靠摇橹和帆，遇到大风浪就回不来了。"
    "我十五岁就跟着父亲上船，学看天看水，学怎么下网怎么收网。后来公社成立了渔业队，大家一起出海，"
    "分鱼按工分算。七十年代队里买了第一条机帆船，大家都高兴得不得了，说以后再也不怕风了。"
    "改革开放以后，我承包了一条船，又在镇上开了个水产店，孩子们都上了学，老大考上了大学，是村里第一个大学生。"
    "现在年纪大了，不出海了，每天就在码头上看看，跟老伙计们聊聊过去的事情。我觉得这辈子最骄傲的，"
    "就是那年台风，我们几条船救了十几个落水的人，政府还给我们发了奖状，说我们是好人好事的典型。"
    "说起纺织厂，那是一九五八年建的，我姐姐就在厂里做挡车工，三班倒，很辛苦，可是大家觉得光荣。"
    "厂里的织布机一开，整个车间都是响声，说话要大声喊。她后来当了劳动模范，还去北京开过会，见过毛主席。"
    "老街上以前有茶馆、有书场，晚上说书的先生一拍醒木，大家就安静下来听三国、听水浒。"
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
TAIL = [chr(c) for c in range(0x4E00, 0x9FA6) if c % 7 == 0][:3000]


class TextModel:
    """A character bigram model of the seed text, with one character in twelve from a long tail of others."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        chars = [c for c in SEED if "\u4e00" <= c <= "\u9fff"]
        self.follow: dict[str, list[str]] = {}
        for a, b in zip(chars, chars[1:]):
            self.follow.setdefault(a, []).append(b)
        self.starts = chars

    def text(self, length: int) -> str:
        rng, out = self.rng, []
        char = rng.choice(self.starts)
        for i in range(length):
            if rng.random() < 1 / 12:
                out.append(rng.choice(TAIL))
                char = rng.choice(self.starts)
            else:
                out.append(char)
                char = rng.choice(self.follow.get(char) or self.starts)
            if i % 9 == 8 and rng.random() < 0.5:
                out.append("，")
        return "".join(out) + "。"


def _copy_rows(connection: Any, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Bulk-load rows: COPY on PostgreSQL, executemany on SQLite."""
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in columns)
        connection.connection.driver_connection.executemany(
            f'INSERT INTO {table} ({", ".join(columns)}) VALUES ({marks})', rows)


def seed_persons(app: Any, count: int, users: dict[str, int], rng: random.Random, model: TextModel) -> None:
    with app.app_context():
        now = "2026-12-01 00:00:00+00:00"
        persons, consents = [], []
        for i in range(1, count + 1):
            name = rng.choice(SURNAMES) + model.text(2)[:rng.choice((1, 2))]
            status = "published" if rng.random() < 0.6 else "draft"
            owner = users["collector"] if rng.random() < 0.05 else users["other"]
            persons.append((i, rng.choice(("good_person", "notable", "local_worthy")), status, 1, name, "[]",
                            name_pinyin(name), "[]", model.text(rng.randint(40, 160)), owner, now, now))
            if status == "published":
                consents.append((i, "public", "2025-05-01", "", users["archivist"], now, False))
        with db.engine.begin() as connection:
            _copy_rows(connection, "persons", ["id", "category", "status", "version", "name", "aliases",
                                               "name_pinyin", "honours", "biography", "created_by_id",
                                               "created_at", "updated_at"], persons)
            _copy_rows(connection, "consents", ["person_id", "scope", "signed_at", "conditions", "created_by_id",
                                                "created_at", "interview_scoped"], consents)
            # what the session's hooks log for records written through it (bulk SQL goes past them)
            change_log.write(connection, {("person", row[0]): "upsert" for row in persons})


def seed_segments(app: Any, start: int, stop: int, users: dict[str, int], persons: int, rng: random.Random,
                  model: TextModel) -> None:
    """Segments start+1 … stop, 500 per recording (a material with one transcript, linked to a profile)."""
    per = 500
    now = "2026-12-01 00:00:00+00:00"
    with app.app_context(), db.engine.begin() as connection:
        materials, transcripts, links, segments = [], [], [], []
        for segment_id in range(start + 1, stop + 1):
            material_id = (segment_id - 1) // per + 1
            if (segment_id - 1) % per == 0:
                owner = users["collector"] if material_id % 10 == 0 else users["other"]
                access = "open" if rng.random() < 0.6 else "restricted"
                materials.append((material_id, "audio", "ready", 1, f"口述访谈 {material_id}", "", owner,
                                  "audio/wav", 1000, f"{material_id:064x}", f"originals/{material_id}", "{}", access,
                                  now, now))
                transcripts.append((material_id, material_id, "faster-whisper", "base", "{}", 1800.0,
                                    "approved" if material_id % 2 else "in_review", 0, 1, "{}", now, now))
                links.append((rng.randint(1, persons), material_id, "interviewee", now))
            index = (segment_id - 1) % per
            segments.append((segment_id, material_id, index, index * 3.6, index * 3.6 + 3.5,
                             model.text(rng.randint(8, 30)), "[]", False, "{}"))
        _copy_rows(connection, "materials", ["id", "kind", "status", "version", "title", "description",
                                             "collector_id", "mime", "size", "sha256", "storage_key", "media_info",
                                             "access_level", "created_at", "updated_at"], materials)
        _copy_rows(connection, "transcripts", ["id", "material_id", "engine", "model", "options", "duration",
                                               "status", "flagged_count", "version", "speakers", "created_at",
                                               "updated_at"], transcripts)
        _copy_rows(connection, "person_materials", ["person_id", "material_id", "role", "created_at"], links)
        _copy_rows(connection, "transcript_segments", ["id", "transcript_id", '"index"', "start", "\"end\"", "text",
                                                       "words", "flagged", "meta"], segments)
        change_log.write(connection, {("material", row[0]): "upsert" for row in materials})


def index_size(app: Any) -> float:
    """MiB of search_documents with its indexes (and the FTS5 tables on SQLite)."""
    with app.app_context(), db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            return connection.scalar(text("SELECT pg_total_relation_size('search_documents')")) / 2**20
        rows = connection.execute(text("SELECT name, SUM(pgsize) FROM dbstat WHERE name LIKE 'search_%' "
                                       "OR name LIKE 'sqlite_autoindex_search_%' GROUP BY name")).all()
        return sum(size for _, size in rows) / 2**20


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def queries(rng: random.Random, model: TextModel, count: int) -> dict[str, list[str]]:
    sample = [model.text(40) for _ in range(count * 4)]

    def piece(n: int) -> str:
        while True:
            source = rng.choice(sample).replace("，", "").rstrip("。")
            at = rng.randrange(0, max(1, len(source) - n))
            word = source[at:at + n]
            if len(word) == n:
                return word

    return {"1 char": [piece(1) for _ in range(count)], "2 chars": [piece(2) for _ in range(count)],
            "4 chars": [piece(4) for _ in range(count)],
            "two words": [f"{piece(2)} {piece(2)}" for _ in range(count)]}


def measure(client: Any, headers: dict[str, str], qs: dict[str, list[str]], rounds: int) -> dict[str, Any]:
    """p95 ms per query class, as a collector and for the public; /api/health as the reference, interleaved."""
    timings: dict[str, list[float]] = {"health": []}
    totals: dict[str, list[int]] = {}
    for _ in range(rounds):
        for label, items in qs.items():
            for q in items:
                for audience, url, hdrs in (("collector", "/api/v1/search", headers), ("public", "/api/public/search", {})):
                    began = time.perf_counter()
                    response = client.get(url, query_string={"q": q}, headers=hdrs)
                    timings.setdefault(f"{label} / {audience}", []).append((time.perf_counter() - began) * 1000)
                    assert response.status_code == 200, response.get_data()[:300]
                    totals.setdefault(f"{label} / {audience}", []).append(response.get_json()["total"])
                began = time.perf_counter()
                client.get("/api/health")
                timings["health"].append((time.perf_counter() - began) * 1000)
    return {"p95": {key: p95(values) for key, values in timings.items()},
            "p50": {key: statistics.median(values) for key, values in timings.items()},
            "hits": {key: statistics.median(values) for key, values in totals.items()}}


def run(args: argparse.Namespace) -> None:
    rng = random.Random(12)
    model = TextModel(rng)
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        app = create_app({"INSTANCE_PATH": str(Path(folder) / "instance"), "SQLALCHEMY_DATABASE_URI": url,
                          "QUEUE_URL": "memory", "SECRET_KEY": "bench-secret-key-that-is-long-enough-for-hs256",
                          "STORAGE_URL": str(Path(folder) / "media"), "PASSWORD_HASH_PROFILE": "test",
                          "PUBLIC_RATE_LIMIT": "off"})
        dialect = url.split(":")[0].split("+")[0]
        with app.app_context():
            upgrade()
            with transaction.atomic():
                users = {name: create_user(None, username=name, password="bench-password-123", roles=[role]).id
                         for name, role in (("collector", "collector"), ("other", "collector"),
                                            ("archivist", "archivist"))}
            headers = {"Authorization": f"Bearer {create_access_token(identity=str(users['collector']))}"}
        began = time.perf_counter()
        seed_persons(app, args.persons, users, rng, model)
        print(f"[{dialect}] seeded {args.persons} profiles in {time.perf_counter() - began:.1f} s", flush=True)
        client = app.test_client()
        qs = queries(random.Random(7), TextModel(random.Random(8)), args.queries)  # the seeded data stays the same
        steps = sorted({int(s) for s in args.steps.split(",") if s} | {args.segments})
        done = previous = documents = 0
        results: list[Any] = []
        for step in steps:
            began = time.perf_counter()
            for start in range(done, step, 100_000):
                seed_segments(app, start, min(step, start + 100_000), users, args.persons, rng, model)
            if dialect == "postgresql":
                with app.app_context(), db.engine.begin() as connection:
                    for table in ("materials", "transcripts", "transcript_segments"):
                        connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                                f"(SELECT max(id) FROM {table}))"))
            seeded = time.perf_counter() - began
            done = step
            began = time.perf_counter()
            with app.app_context(), transaction.atomic():
                if not results:  # the first step: `liufang search reindex` (profiles, materials, segments)
                    documents = search_index.rebuild()
                    indexed = documents
                else:  # later steps: the new segments, indexed in bulk
                    indexed = search_index.append_segments(previous)
                    documents += indexed
            build = time.perf_counter() - began
            previous = step
            if dialect == "postgresql":
                with app.app_context(), db.engine.connect() as connection:
                    connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
            size = index_size(app)
            what = "reindex of everything" if len(results) == 0 else "bulk indexing of the new segments"
            print(f"[{dialect}] {step} segments: seeded in {seeded:.1f} s; {what}: {indexed} documents in "
                  f"{build:.1f} s ({indexed / build:,.0f} documents/s); index now {documents} documents, "
                  f"{size:.0f} MiB", flush=True)
            with app.app_context():  # a fresh token per step: a run outlasts an access token's 15 minutes
                headers = {"Authorization": f"Bearer {create_access_token(identity=str(users['collector']))}"}
            # as a server's worker does once it has built the app (scripts/gunicorn.conf.py, post_worker_init): the
            # objects that live on (the app's dictionaries, here also what seeding kept) stay out of full collections
            gc.collect()
            gc.freeze()
            measure(client, headers, {k: v[:3] for k, v in qs.items()}, 1)  # warm-up
            figures = measure(client, headers, qs, args.rounds)
            results.append((step, build, size, figures))
            health = figures["p95"]["health"]
            for key, value in figures["p95"].items():
                if key != "health":
                    print(f"  {key:24s} p50 {figures['p50'][key]:7.1f}  p95 {value:7.1f} ms  "
                          f"({value / health:5.1f}× health p95)  median hits {figures['hits'][key]:,.0f}")
            print(f"  {'GET /api/health':24s} p50 {figures['p50']['health']:7.1f}  p95 {health:7.1f} ms", flush=True)
        print("load average:", " ".join(f"{value:.2f}" for value in os.getloadavg()))


def main() -> None:
    parser = argparse.ArgumentParser(description=ABOUT, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=1_000_000)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--steps", default="10000,100000", help="smaller sizes measured on the way")
    parser.add_argument("--queries", type=int, default=40, help="queries per class")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--database-url")
    parser.add_argument("--postgres", action="store_true", help="start a throw-away PostgreSQL and use it")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.postgres:
            args.database_url = stack.enter_context(postgres_server())
        run(args)


if __name__ == "__main__":
    main()
