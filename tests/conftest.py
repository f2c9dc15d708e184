"""Shared fixtures: the app (on SQLite; on PostgreSQL too for tests marked ``both_databases``), a test client, the CLI
runner, users per role, the app's clock, and one Whisper model cache for the session.

The app is built once per database for the whole session (building one registers every blueprint and its OpenAPI
description: a quarter of a second). Each test still gets a clean app: the configuration as built, its own instance
and media folders under ``tmp_path``, no cached storage or rate-limit window, a fresh in-memory queue bound to it,
the real clock, and empty tables afterwards, so no test sees another's rows, files or settings.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from backend import create_app
from backend.clock import Clock
from backend.clock import clock as app_clock
from backend.extensions import db, queue
from backend.services.search_engines import engine_for
from tests.support.postgres import postgres_server
from tests.support.s3server import S3Server, WeedNotFound, find_weed, run_s3_server

ROLE_USERS = {
    "admin": ["admin"],
    "collector": ["collector"],
    "other_collector": ["collector"],
    "editor": ["editor"],
    "archivist": ["archivist"],
}
PASSWORD = "correct-horse-battery"
# What a test may leave in app.extensions that the next test must not inherit (built again on first use).
_PER_TEST_EXTENSIONS = ("liufang_storage", "liufang_upload_store", "liufang_log_caches")


def _base_config(tmp_path: Any, database_url: str, model_cache: Path | None = None) -> dict[str, Any]:
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret-key-that-is-long-enough-for-hs256",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "QUEUE_URL": "memory",
        "QUEUE_IMMEDIATE": True,
        "PASSWORD_HASH_PROFILE": "test",
        "STORAGE_URL": str(tmp_path / "media"),
        # No Whisper run unless a test asks for one (tests/transcripts turns it on for its app).
        "AUTO_TRANSCRIBE": False,
        # No OCR of every uploaded photo and PDF either (tests/materials/test_text.py turns it on where it reads).
        "AUTO_OCR": False,
    }
    if model_cache is not None:
        config["MODEL_CACHE"] = str(model_cache)
    return config


def _migrate(database_url: str, tmp_path: Any) -> None:
    from flask_migrate import upgrade

    app = create_app(_base_config(tmp_path, database_url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


def _on_both_databases(metafunc: pytest.Metafunc) -> bool:
    return metafunc.definition.get_closest_marker("both_databases") is not None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.both_databases`` (on a test or a module): run the test with the app on SQLite and on
    PostgreSQL. Every other test gets the app on SQLite only."""
    if "app" not in metafunc.fixturenames or not _on_both_databases(metafunc):
        return
    fixturedefs = metafunc.definition._fixtureinfo.name2fixturedefs.get("app", ())
    if not fixturedefs or fixturedefs[-1].func is not app.__wrapped__:  # type: ignore[attr-defined]
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: both_databases needs the shared `app` fixture, "
                                "not one that this module overrides")
    metafunc.parametrize("app", [pytest.param("sqlite", id="sqlite"),
                                 pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)],
                         indirect=True)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one Whisper model cache of the session, for the app (MODEL_CACHE), worker processes
    (LIUFANG_MODEL_CACHE) and the transcription tests: the packaged model is joined and verified into it once, and
    transcription.engines keeps one loaded transcriber per process for the app's configuration."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("sqlite")
    url = f"sqlite:///{root / 'test.db'}"
    _migrate(url, root)
    return url


@pytest.fixture(scope="session")
def postgresql_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("LIUFANG_TEST_POSTGRES_URL")
    if url:
        _migrate(url, tmp_path_factory.mktemp("pg"))
        yield url
        return
    try:
        server = postgres_server()
        url = server.__enter__()
    except RuntimeError as exc:
        if os.environ.get("LIUFANG_REQUIRE_POSTGRES") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        _migrate(url, tmp_path_factory.mktemp("pg"))
        yield url
    finally:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3 server (SeaweedFS `weed mini`, signatures checked) on 127.0.0.1 for the whole session."""
    try:
        find_weed()
    except WeedNotFound as exc:
        pytest.fail(str(exc), pytrace=False)
    with run_s3_server() as server:
        yield server


class _SharedApp:
    """One app per database for the session, with the configuration it was built with."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.pristine_config = copy.deepcopy(dict(app.config))
        with app.app_context():
            self.tables = [table.name for table in reversed(db.metadata.sorted_tables)]
            self.dialect = db.engine.dialect.name

    def fresh(self, tmp_path: Path) -> Flask:
        """The app as built, with this test's instance and media folders."""
        from backend.jobs import tasks

        app = self.app
        app.config.clear()
        app.config.update(copy.deepcopy(self.pristine_config))
        app.config.update(INSTANCE_PATH=str(tmp_path / "instance"), STORAGE_URL=str(tmp_path / "media"))
        app.instance_path = str(tmp_path / "instance")
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        for name in _PER_TEST_EXTENSIONS:
            app.extensions.pop(name, None)
        # The queue is one object for the process; create_app binds it to the newest app. Bind it to this one
        # (a new in-memory Huey: no task or result is left from an earlier test).
        queue.init_app(app)
        tasks.register(queue, app)
        return app

    def empty_tables(self) -> None:
        with self.app.app_context():
            db.session.remove()
            if self.dialect == "postgresql":
                db.session.execute(text(f"TRUNCATE {', '.join(self.tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in self.tables:
                    db.session.execute(text(f"DELETE FROM {table}"))
                engine_for("sqlite").clear(db.session.connection())  # FTS5 tables are not models' tables
            db.session.commit()
            db.session.remove()


def _shared_app(tmp_path_factory: pytest.TempPathFactory, database_url: str, model_cache: Path) -> _SharedApp:
    root = tmp_path_factory.mktemp("app")
    return _SharedApp(create_app(_base_config(root, database_url, model_cache)))


@pytest.fixture(scope="session")
def _sqlite_shared_app(tmp_path_factory: pytest.TempPathFactory, sqlite_database: str,
                       model_cache: Path) -> Iterator[_SharedApp]:
    shared = _shared_app(tmp_path_factory, sqlite_database, model_cache)
    yield shared
    with shared.app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def _postgresql_shared_app(tmp_path_factory: pytest.TempPathFactory, postgresql_database: str,
                           model_cache: Path) -> Iterator[_SharedApp]:
    shared = _shared_app(tmp_path_factory, postgresql_database, model_cache)
    yield shared
    with shared.app.app_context():
        db.engine.dispose()


def _app_for_test(request: pytest.FixtureRequest, tmp_path: Path, database: str) -> Iterator[Flask]:
    shared: _SharedApp = request.getfixturevalue(f"_{database}_shared_app")
    yield shared.fresh(tmp_path)
    shared.empty_tables()


@pytest.fixture
def sqlite_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """The app on SQLite, for behaviour that does not depend on the database (the default for ``app`` too)."""
    yield from _app_for_test(request, tmp_path, "sqlite")


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """The app on SQLite; on SQLite and PostgreSQL for tests marked ``both_databases``."""
    database = getattr(request, "param", "sqlite")
    if database == "sqlite":
        yield request.getfixturevalue("sqlite_app")
    else:
        yield from _app_for_test(request, tmp_path, database)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


@pytest.fixture(autouse=True)
def _real_time_after_each_test() -> Iterator[None]:
    yield
    app_clock.reset()


@pytest.fixture
def clock() -> Clock:
    """The app's clock (backend.clock): ``clock.advance(timedelta(...))`` lets time pass without sleeping. It is
    put back on real time after each test. Only this process follows it: a worker or server process keeps real time."""
    return app_clock


@pytest.fixture
def users(app: Flask) -> dict[str, Any]:
    """One account per role name in ROLE_USERS; returns {name: user id}."""
    from backend import transaction
    from backend.services.users import create_user

    ids = {}
    with app.app_context(), transaction.atomic():
        for name, roles in ROLE_USERS.items():
            ids[name] = create_user(None, username=name.replace("_", "-"), password=PASSWORD, roles=roles,
                                    display_name=name).id
    return ids


@pytest.fixture
def auth(app: Flask, users: dict[str, Any]) -> Callable[[str], dict[str, str]]:
    """``auth("editor")`` → headers with a bearer token of that user (``auth("anonymous")`` → no token)."""
    from flask_jwt_extended import create_access_token

    tokens: dict[str, str] = {}
    with app.app_context():
        for name, user_id in users.items():
            tokens[name] = create_access_token(identity=str(user_id))

    def headers(name: str) -> dict[str, str]:
        return {} if name == "anonymous" else {"Authorization": f"Bearer {tokens[name]}"}

    return headers
