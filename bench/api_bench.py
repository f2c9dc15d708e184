"""Person-profile API benchmark: seeds 100k profiles, serves them with gunicorn and times list/search/detail calls."""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# The project's venv, or (in a git worktree without one) the venv of the Python running this script.
VENV_BIN = ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin").is_dir() else Path(sys.executable).parent
PASSWORD = "bench-password-123"
ABOUT = """\
Usage:  .venv/bin/python bench/api_bench.py [--count 100000] [--requests 300] [--concurrency 1]
                                            [--postgres | --database-url URL] [--analyze]

Steps: a fresh temporary instance folder (LIUFANG_INSTANCE_PATH; SQLite in it unless --postgres or
--database-url), `liufang db upgrade`, an archivist and a collector made with `liufang users create`,
then --count profiles inserted with SQLAlchemy Core bulk inserts. Derived fields (name_pinyin,
search terms) come from backend.services.pinyin, the functions the API itself uses. gunicorn
(scripts/gunicorn.conf.py, as `make run`: gevent workers, -w 2) then serves the app on a free port and every endpoint gets a few warm-up requests
and --requests timed ones, logged in as the archivist (staff: sees every profile). The table gives
p50/p95/p99 latency, requests per second, and p50 and p95 relative to GET /api/health's (measured first and then
again after every endpoint, a quarter as many requests each time, all pooled). gunicorn, the temporary
folder and any PostgreSQL started by --postgres are removed at the end, also on errors and Ctrl-C.

--analyze runs ANALYZE after seeding on SQLite too (PostgreSQL is always analysed, as autovacuum would
do soon after a bulk load; the app itself never runs ANALYZE on SQLite, so the default mirrors that).
"""
ARCHIVIST, COLLECTOR = "bench_archivist", "bench_collector"

# --- realistic data ---------------------------------------------------------------------------------------------

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
            "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武"
            "戴莫孔向汤")
# Roughly Zipf-like, as in real populations: 王/李/张 about 5–7 % each, the tail well under 1 %.
SURNAME_WEIGHTS = tuple(1 / (rank + 4) for rank in range(len(SURNAMES)))
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方")
GIVEN_CHARS = ("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建国建华志强文斌凤兰德胜"
               "海燕春梅振华永生桂芝淑珍宝山立新庆林金凤长海玉珍学文守信家和传福广田")
AREAS: dict[str, tuple[str, ...]] = {
    "海州区": ("新坝镇", "锦屏镇", "板浦镇", "浦南镇", "新浦街道", "海州街道", "朐阳街道"),
    "连云区": ("高公岛街道", "连云街道", "墟沟街道", "宿城街道", "连岛街道", "云山街道"),
    "赣榆区": ("青口镇", "柘汪镇", "石桥镇", "金山镇", "黑林镇", "海头镇", "班庄镇", "墩尚镇"),
    "东海县": ("牛山街道", "石榴街道", "白塔埠镇", "黄川镇", "石梁河镇", "桃林镇", "温泉镇", "驼峰乡"),
    "灌云县": ("伊山镇", "杨集镇", "燕尾港镇", "同兴镇", "四队镇", "圩丰镇", "龙苴镇"),
    "灌南县": ("新安镇", "堆沟港镇", "田楼镇", "北陈集镇", "张店镇", "三口镇", "孟兴庄镇"),
}
DISTRICT_WEIGHTS = (30, 12, 18, 16, 13, 11)
VILLAGES = ("王庄村", "李庄村", "张庄村", "新河村", "东园村", "西湖村", "北岗村", "南河村", "前营村", "后营村",
            "大沙村", "小沙村", "渔湾社区", "朝阳社区", "建设社区", "盐河村", "山前村", "海棠村")
TAGS = ("剪纸", "淮海戏", "渔民", "教师", "医生", "非遗", "见义勇为", "孝老爱亲", "助人为乐", "诚实守信",
        "敬业奉献", "书法", "绘画", "民俗", "老兵", "乡村振兴", "志愿者", "手工艺", "海州五大宫调", "盐业",
        "西游记文化", "石刻", "民歌", "抗疫", "退役军人", "劳动模范", "企业家", "族谱")
TAG_WEIGHTS = (6, 4, 8, 10, 8, 6, 5, 7, 9, 5, 8, 4, 4, 5, 4, 6, 9, 4, 1, 2, 1, 1, 3, 3, 4, 3, 3, 2)
OCCUPATIONS = ("教师", "医生", "渔民", "农民", "工人", "退休干部", "民间艺人", "乡村医生", "个体户", "志愿者",
               "村支部书记", "书法家", "画家", "戏曲演员", "企业家", "退役军人", "护士", "盐工")
HONOURS = {"good_person": ("连云港好人", "江苏好人", "中国好人"),
           "notable": ("市级非遗传承人", "省级非遗传承人", "德艺双馨艺术家"),
           "local_worthy": ("新乡贤", "乡贤理事会会长", "优秀乡贤")}
BIO_PHRASES = ("自幼家境贫寒，勤学苦练。", "几十年如一日照顾孤寡老人，邻里称道。", "师从当地老艺人，潜心钻研技艺。",
               "改革开放后回乡创业，带动乡亲致富。", "在海上救起落水群众多人。", "整理地方文献与家谱数十部。",
               "长期义务为村民看病送药。", "培养学生数千人，桃李满天下。", "作品多次在省市展览中获奖。",
               "捐资修路建桥，热心公益事业。", "口述资料由档案馆于近年采集整理。", "其事迹被当地报刊多次报道。")
STATUS_WEIGHTS = {"published": 45, "approved": 18, "draft": 20, "submitted": 9, "returned": 4, "withdrawn": 4}
CATEGORY_WEIGHTS = {"good_person": 50, "notable": 25, "local_worthy": 25}


def random_name(rng: random.Random) -> str:
    surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.01 else rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]
    given_length = 1 if rng.random() < 0.3 else 2
    return surname + "".join(rng.choice(GIVEN_CHARS) for _ in range(given_length))


def _derived(key: tuple[str, tuple[str, ...]]) -> tuple[str, list[str]]:
    """name_pinyin and search terms of one (name, aliases), computed by the app's own functions."""
    from backend.services.pinyin import index_terms, name_pinyin

    name, aliases = key
    return name_pinyin(name), sorted(index_terms(name, list(aliases)))


def derive_all(keys: set[tuple[str, tuple[str, ...]]], processes: int) -> dict[tuple[str, tuple[str, ...]], tuple[str, str]]:
    """pypinyin costs ~0.4 ms a name: compute each distinct name once, spread over the CPU cores."""
    ordered = sorted(keys)
    if processes <= 1 or len(ordered) < 2000:
        return {key: _derived(key) for key in ordered}
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return dict(zip(ordered, pool.map(_derived, ordered, chunksize=500)))


def _partial_date(rng: random.Random, year: int) -> str:
    roll = rng.random()
    if roll < 0.2:
        return str(year)
    if roll < 0.5:
        return f"{year}-{rng.randint(1, 12):02d}"
    return f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def generate_people(count: int, user_ids: dict[str, int], rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows for `persons` and `person_tags` without the derived pinyin fields (filled in by seed())."""
    now = datetime.now(UTC)
    span = timedelta(days=3 * 365).total_seconds()
    statuses, status_w = zip(*STATUS_WEIGHTS.items())
    categories, category_w = zip(*CATEGORY_WEIGHTS.items())
    districts = tuple(AREAS)
    persons: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    for person_id in range(1, count + 1):
        name = random_name(rng)
        aliases = [rng.choice(("老", "小")) + name[0]] if rng.random() < 0.05 else []
        category = rng.choices(categories, category_w)[0]
        status = rng.choices(statuses, status_w)[0]
        district = rng.choices(districts, DISTRICT_WEIGHTS)[0]
        town = rng.choice(AREAS[district])
        occupation = rng.choice(OCCUPATIONS)
        created_at = now - timedelta(seconds=rng.uniform(0, span))
        updated_at = min(now, created_at + timedelta(seconds=rng.uniform(0, 90 * 86400)))
        step = (updated_at - created_at) / 4
        birth_year = rng.randint(1905, 1995)
        dead = birth_year < 1950 and rng.random() < 0.6
        creator = COLLECTOR if rng.random() < 0.7 else ARCHIVIST
        reviewed = status in ("approved", "published", "withdrawn")
        persons.append({
            "id": person_id, "client_uuid": None, "category": category, "status": status,
            "version": rng.randint(1, 6), "name": name, "aliases": aliases,
            "gender": rng.choices(("male", "female", "unknown"), (55, 43, 2))[0],
            "ethnicity": "汉族" if rng.random() < 0.97 else rng.choice(("回族", "满族", "蒙古族")),
            "birth_date": _partial_date(rng, birth_year),
            "death_date": _partial_date(rng, rng.randint(birth_year + 40, 2024)) if dead else None,
            "native_place": f"江苏连云港{district}",
            "area_district": district, "area_town": town,
            "area_village": rng.choice(VILLAGES) if rng.random() < 0.8 else None,
            "occupation": occupation,
            "honours": ([{"title": rng.choice(HONOURS[category]), "year": rng.randint(2005, 2025),
                          "conferred_by": "连云港市文明办"}] if rng.random() < 0.6 else []),
            "biography": f"{name}，{district}{town}人，{occupation}。" + "".join(rng.sample(BIO_PHRASES, rng.randint(2, 6))),
            "id_number": None, "phone": f"13{rng.randint(0, 999999999):09d}" if rng.random() < 0.3 else None,
            "address": f"{district}{town}" if rng.random() < 0.5 else None, "return_comment":
                "请补充口述材料" if status == "returned" else None,
            "created_by_id": user_ids[creator], "created_at": created_at, "updated_at": updated_at,
            "submitted_at": created_at + step if status != "draft" else None,
            "approved_at": created_at + 2 * step if reviewed else None,
            "approved_by_id": user_ids[ARCHIVIST] if reviewed else None,
            "published_at": created_at + 3 * step if status in ("published", "withdrawn") else None,
            "withdrawn_at": updated_at if status == "withdrawn" else None,
        })
        for tag in set(rng.choices(TAGS, TAG_WEIGHTS, k=rng.choice((0, 1, 1, 2, 2, 3)))):
            tags.append({"person_id": person_id, "tag": tag})
    return persons, tags


def seed(count: int, rng: random.Random, analyze: bool, batch: int = 5000) -> dict[str, Any]:
    """Insert the profiles through SQLAlchemy Core inside an app context; returns facts for the report."""
    from sqlalchemy import func, insert, select, text

    from backend import create_app
    from backend.extensions import db
    from backend.models import Person, PersonSearchTerm, PersonTag, User
    from backend.services.pagination import encode_cursor

    app = create_app()
    with app.app_context():
        user_ids = {u.username: u.id for u in db.session.scalars(select(User))}
        t0 = time.perf_counter()
        persons, tags = generate_people(count, user_ids, rng)
        t1 = time.perf_counter()
        derived = derive_all({(p["name"], tuple(p["aliases"])) for p in persons}, os.cpu_count() or 1)
        terms = []
        for p in persons:
            p["name_pinyin"], person_terms = derived[(p["name"], tuple(p["aliases"]))]
            terms.extend({"person_id": p["id"], "term": term} for term in person_terms)
        t2 = time.perf_counter()
        for start in range(0, len(persons), batch):
            db.session.execute(insert(Person.__table__), persons[start:start + batch])
        for start in range(0, len(tags), batch * 2):
            db.session.execute(insert(PersonTag.__table__), tags[start:start + batch * 2])
        for start in range(0, len(terms), batch * 4):
            db.session.execute(insert(PersonSearchTerm.__table__), terms[start:start + batch * 4])
        dialect = db.engine.dialect.name
        if dialect == "postgresql":  # explicit ids: move the sequence past them so later inserts work
            db.session.execute(text("SELECT setval(pg_get_serial_sequence('persons', 'id'), (SELECT max(id) FROM persons))"))
        db.session.commit()
        t3 = time.perf_counter()
        if dialect == "postgresql" or analyze:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        t4 = time.perf_counter()
        rows = db.session.scalar(select(func.count()).select_from(Person))
        tag_rows = db.session.scalar(select(func.count()).select_from(PersonTag))
        version = db.session.scalar(text("SELECT sqlite_version()" if dialect == "sqlite" else "SHOW server_version"))
        sample = persons[rng.randrange(len(persons))]["name"]
        # What a client holds after walking 1,999 pages of 20 by next_cursor (the default order, -updated).
        deep_row = db.session.execute(select(Person.updated_at, Person.id)
                                      .order_by(Person.updated_at.desc(), Person.id.desc())
                                      .offset(1999 * 20 - 1).limit(1)).first()
        deep_cursor = encode_cursor(list(deep_row)) if deep_row else None
        db.session.remove()
        db.engine.dispose()
    return {"rows": rows, "tag_rows": tag_rows, "distinct_names": len(derived), "dialect": dialect,
            "db_version": version, "sample_name": sample, "deep_cursor": deep_cursor, "analyzed": dialect == "postgresql" or analyze,
            "timings": {"generate": t1 - t0, "pinyin": t2 - t1, "insert": t3 - t2, "analyze": t4 - t3}}


# --- the server -------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> None:
    result = subprocess.run([str(VENV_BIN / "liufang"), *args], env=env, cwd=ROOT, input=stdin,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"liufang {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


@contextlib.contextmanager
def gunicorn(env: dict[str, str], log_path: Path, workers: int) -> Iterator[str]:
    """Start gunicorn in its own process group; yield its base URL once /api/health answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "scripts" / "gunicorn.conf.py"),
                                 "-w", str(workers), "-b", f"127.0.0.1:{port}"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer /api/health:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- measuring --------------------------------------------------------------------------------------------------

@dataclass
class Result:
    label: str
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    total: int | None = None  # rows matched, for list endpoints

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000


def measure(base: str, token: str | None, label: str, path_of, n: int, concurrency: int,
            max_seconds: float, warmup: int = 3) -> Result:
    """Time `n` GETs of path_of(i); path_of may return a different path per request (random ids)."""
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "s"):
            local.s = requests.Session()
            if token:
                local.s.headers["Authorization"] = f"Bearer {token}"
        return local.s

    result = Result(label)
    stop_at = time.monotonic() + max_seconds

    def one(i: int) -> float | None:
        if time.monotonic() > stop_at:
            return None
        start = time.perf_counter()
        response = session().get(base + path_of(i), timeout=120)
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise RuntimeError(f"{label}: GET {path_of(i)} answered {response.status_code}: {response.text[:300]}")
        if result.total is None and "total" in (body := response.json()):
            result.total = body["total"]
        return elapsed

    for i in range(warmup):
        one(-1 - i)
    started = time.perf_counter()
    if concurrency <= 1:
        timed = [one(i) for i in range(n)]
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            timed = list(pool.map(one, range(n)))
    result.latencies = [t for t in timed if t is not None]
    result.wall = time.perf_counter() - started
    return result


def list_cases(full_name: str, deep_cursor: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The list queries timed (label, query parameters besides per_page=20); --explain shows their plans."""
    return [
        ("list", {}),
        ("list sort=pinyin", {"sort": "pinyin"}),
        ("filter notable+published+海州区", {"category": "notable", "status": "published", "area": "海州区"}),
        ("tag=剪纸", {"tag": "剪纸"}),
        ("q=张", {"q": "张"}),
        (f"q={full_name} (full name)", {"q": full_name}),
        ("q=zhang (pinyin)", {"q": "zhang"}),
        ("q=zs (initials)", {"q": "zs"}),
        ("deep page=2000", {"page": 2000}),
        *((("deep page=2000 by cursor", {"cursor": deep_cursor}),) if deep_cursor else ()),
    ]


def endpoints(seeded: dict[str, Any], count: int, rng: random.Random) -> list[tuple[str, Any, bool]]:
    """(label, path or path-maker, needs login)."""
    ids = [rng.randint(1, count) for _ in range(10_000)]
    return [
        ("GET /api/health (reference)", "/api/health", False),
        ("GET /auth/me (auth only)", "/api/v1/auth/me", True),
        *((label, "/api/v1/persons?" + urlencode({"per_page": 20, **params}), True)
          for label, params in list_cases(seeded["sample_name"], seeded.get("deep_cursor"))),
        ("detail /persons/<random id>", lambda i: f"/api/v1/persons/{ids[i % len(ids)]}", True),
    ]


def explain(full_name: str) -> None:
    """Print the SQL plan and time of the COUNT and the page query that list_persons builds for each case."""
    from unittest import mock

    from sqlalchemy import func, select, text

    from backend import create_app
    from backend.extensions import db
    from backend.models import User
    from backend.services import persons as person_service
    from backend.services.pagination import Page

    app = create_app()
    with app.app_context():
        actor = db.session.scalar(select(User).where(User.username == ARCHIVIST))
        sqlite = db.engine.dialect.name == "sqlite"
        prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF) "
        print("\nquery plans (archivist; the COUNT(*) and the LIMIT 20 query paginate() runs):")
        for label, params in list_cases(full_name):
            # Capture the query the service builds instead of paging it, so the plans are of the app's own SQL.
            with mock.patch.object(person_service, "paginate", return_value=Page([], 0, 1, 20)) as paginate:
                person_service.list_persons(actor, **params)
            query, page, per_page = paginate.call_args.args
            query = query.order_by(*paginate.call_args.kwargs.get("order", ()))
            page = page or 1
            for kind, stmt in (("count", select(func.count()).select_from(query.order_by(None).subquery())),
                               ("page", query.limit(per_page).offset((page - 1) * per_page))):
                sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
                if not sqlite:  # psycopg's paramstyle doubles % in literals; no parameters are sent here
                    sql = sql.replace("%%", "%")
                start = time.perf_counter()
                db.session.execute(text(sql)).all()
                elapsed = (time.perf_counter() - start) * 1000
                print(f"  {label} [{kind}] {elapsed:.1f} ms")
                for row in db.session.execute(text(prefix + sql)):
                    print(f"      {row[-1]}")
        db.session.remove()
        db.engine.dispose()


def print_table(results: list[Result]) -> None:
    reference = statistics.median(results[0].latencies) * 1000
    reference_p95 = results[0].pct(95)
    header = (f"{'endpoint':<34} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>7} {'×health':>8} "
              f"{'p95 ×':>6} {'total':>7}")
    print(header)
    print("-" * len(header))
    for r in results:
        p50 = statistics.median(r.latencies) * 1000
        # CJK characters take two columns in a terminal: pad by display width.
        width = sum(2 if ord(ch) > 0x2E80 else 1 for ch in r.label)
        label = r.label + " " * max(0, 34 - width)
        total = "" if r.total is None else str(r.total)
        print(f"{label} {len(r.latencies):>4} {p50:>8.1f} {r.pct(95):>8.1f} {r.pct(99):>8.1f} "
              f"{len(r.latencies) / r.wall:>7.1f} {p50 / reference:>8.1f} {r.pct(95) / reference_p95:>6.1f} {total:>7}")


# --- main -------------------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, epilog=ABOUT,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000, help="person profiles to seed (default 100000)")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per endpoint (default 300)")
    parser.add_argument("--concurrency", type=int, default=1, help="client threads (default 1: sequential)")
    parser.add_argument("--max-seconds", type=float, default=90,
                        help="stop timing an endpoint after this long; n in the table shows how many ran (default 90)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--seed", type=int, default=20241127, help="random seed for the data")
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE on SQLite after seeding")
    db = parser.add_mutually_exclusive_group()
    db.add_argument("--database-url", help="use this (empty) database instead of SQLite in the temp folder")
    db.add_argument("--postgres", action="store_true",
                    help="start a throw-away PostgreSQL (tests/support/postgres.py) and use it")
    parser.add_argument("--explain", action="store_true",
                        help="also print the SQL plans (EXPLAIN) and times of the list queries")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (prints its path)")
    return parser.parse_args(argv)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    rng = random.Random(args.seed)
    instance = Path(tempfile.mkdtemp(prefix="liufang-api-bench-"))
    with contextlib.ExitStack() as stack:
        if not args.keep:
            stack.callback(shutil.rmtree, instance, ignore_errors=True)
        database_url = args.database_url
        if args.postgres:
            from tests.support.postgres import postgres_server

            print("starting PostgreSQL …", flush=True)
            database_url = stack.enter_context(postgres_server())
        env = {**os.environ, "LIUFANG_INSTANCE_PATH": str(instance), "LIUFANG_JWT_ACCESS_MINUTES": "240",
               "LIUFANG_LOGIN_MAX_FAILURES": "1000"}
        env.pop("DATABASE_URL", None)
        if database_url:
            env["DATABASE_URL"] = database_url
        os.environ.update({k: env[k] for k in ("LIUFANG_INSTANCE_PATH", "LIUFANG_JWT_ACCESS_MINUTES")})
        os.environ.pop("DATABASE_URL", None)
        if database_url:
            os.environ["DATABASE_URL"] = database_url

        t0 = time.perf_counter()
        run_cli(["db", "upgrade"], env)
        run_cli(["users", "create", ARCHIVIST, "--role", "archivist", "--display-name", "档案员", "--password-stdin"],
                env, PASSWORD + "\n")
        run_cli(["users", "create", COLLECTOR, "--role", "collector", "--display-name", "采集员", "--password-stdin"],
                env, PASSWORD + "\n")
        t1 = time.perf_counter()
        print(f"instance {instance}; schema and users in {t1 - t0:.1f} s; seeding {args.count} profiles …", flush=True)
        seeded = seed(args.count, rng, args.analyze)
        t = seeded["timings"]
        print(f"seeded {seeded['rows']} persons, {seeded['tag_rows']} tags ({seeded['distinct_names']} distinct names) "
              f"in {sum(t.values()):.1f} s: generate {t['generate']:.1f}, pinyin {t['pinyin']:.1f}, "
              f"insert {t['insert']:.1f}, analyze {t['analyze']:.1f}", flush=True)

        base = stack.enter_context(gunicorn(env, instance / "gunicorn.log", args.workers))
        login = requests.post(f"{base}/api/v1/auth/login", json={"username": ARCHIVIST, "password": PASSWORD}, timeout=30)
        login.raise_for_status()
        token = login.json()["access_token"]

        results = []
        for label, path, needs_login in endpoints(seeded, args.count, rng):
            path_of = path if callable(path) else (lambda _i, p=path: p)
            results.append(measure(base, token if needs_login else None, label, path_of, args.requests,
                                   args.concurrency, args.max_seconds))
            if len(results) > 1:  # the reference is also measured between the endpoints, not only at the start
                between = measure(base, None, "health", lambda _i: "/api/health", max(20, args.requests // 4),
                                  args.concurrency, args.max_seconds)
                results[0].latencies += between.latencies
                results[0].wall += between.wall
            print(f"  {label}: done", file=sys.stderr, flush=True)

        import psutil

        print()
        print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
              f"{psutil.virtual_memory().total / 1024**3:.1f} GiB RAM, Python {platform.python_version()}")
        print(f"database: {seeded['dialect']} {seeded['db_version']}"
              f"{' (ANALYZEd)' if seeded['analyzed'] else ' (no ANALYZE)'}; persons: {seeded['rows']}, "
              f"person_tags: {seeded['tag_rows']}")
        print(f"server: gunicorn gevent -w {args.workers}; client: {args.requests} requests per "
              f"endpoint, concurrency {args.concurrency}, logged in as archivist (sees all profiles)")
        print()
        print_table(results)
        if args.explain:
            explain(seeded["sample_name"])
        print(f"\ntotal time {time.perf_counter() - t0:.0f} s")
        if args.keep:
            print(f"kept {instance}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        sys.exit(130)
