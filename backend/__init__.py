"""留芳 Liufang backend: the Flask application factory."""

from __future__ import annotations

import itertools
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Mapping

from flask import Flask, send_from_directory
from sqlalchemy import event
from sqlalchemy.engine import make_url
from swagger_ui_bundle import swagger_ui_path
from werkzeug.middleware.proxy_fix import ProxyFix

from backend import api as http_api
from backend import cli, console, models, transaction  # noqa: F401  (models: registers the tables)
from backend.config import instance_secret_key, load_from_env
from backend.extensions import api, db, jwt, migrate, queue
from backend.jobs import tasks
from backend.services import change_log, search_index

API_TITLE = "Liufang 留芳 API"
API_VERSION = "1.0"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment, then ``test_config`` on top (tests and tools)."""
    instance_path = Path(os.environ.get("LIUFANG_INSTANCE_PATH") or Path.cwd() / "instance").resolve()
    if test_config and test_config.get("INSTANCE_PATH"):
        instance_path = Path(test_config["INSTANCE_PATH"]).resolve()
    app = Flask(__name__, instance_path=str(instance_path), instance_relative_config=True)
    instance_path.mkdir(parents=True, exist_ok=True)

    app.config.update(_defaults(instance_path))
    app.config.update({k: v for k, v in load_from_env().items() if v is not None})
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(instance_path)
    app.config.setdefault("JWT_SECRET_KEY", app.config["SECRET_KEY"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql://"):
        app.config["SQLALCHEMY_DATABASE_URI"] = app.config["SQLALCHEMY_DATABASE_URI"].replace(
            "postgresql://", "postgresql+psycopg://", 1)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**_pool_options(app.config["SQLALCHEMY_DATABASE_URI"],
                                                              app.config["DB_POOL_SIZE"]),
                                               **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}

    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese stays readable in every response
    _trust_proxies(app, app.config.get("TRUSTED_PROXIES", 0))
    _init_extensions(app)
    _register_docs_assets(app)
    cli.init_app(app)
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"))
    return app


def _defaults(instance_path: Path) -> dict[str, Any]:
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance_path / 'liufang.db'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "QUEUE_URL": f"sqlite:///{instance_path / 'queue.db'}",
        "STORAGE_URL": str(instance_path / "media"),
        "MODEL_CACHE": str(instance_path / "models"),
        "JSON_SORT_KEYS": False,
        # Phones send bearer tokens; the console's session lives in HttpOnly cookies with a CSRF double submit
        # (the csrf_* cookies are readable, the console sends them back as X-CSRF-TOKEN on every change).
        "JWT_TOKEN_LOCATION": ["headers", "cookies"],
        "JWT_COOKIE_SAMESITE": "Strict",
        "JWT_COOKIE_CSRF_PROTECT": True,
        "JWT_ACCESS_COOKIE_PATH": "/api/",
        "JWT_REFRESH_COOKIE_PATH": "/api/v1/auth/session",
        "JWT_ACCESS_CSRF_COOKIE_PATH": "/",
        "JWT_REFRESH_CSRF_COOKIE_PATH": "/",
        "JWT_ERROR_MESSAGE_KEY": "message",
        "API_TITLE": API_TITLE,
        "API_VERSION": API_VERSION,
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
        "API_SPEC_OPTIONS": {
            "info": {"description": "留芳：为好人建档，让德者留芳；为名家建档，让尊者留芳；为乡贤建档，让贤者留芳。"
                                    "\n\nOral-history and person-archive API for city archives. Send "
                                    "`Authorization: Bearer <access_token>` from `POST /api/v1/auth/login`."},
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                                              "bearerFormat": "JWT"}}},
            "security": [{"bearerAuth": []}],
        },
    }


def _trust_proxies(app: Flask, hops: int) -> None:
    """Behind ``hops`` reverse proxies, the client address, scheme and host are the ones the nearest trusted proxy
    reports (X-Forwarded-For/-Proto/-Host); the login throttle and the public rate limit count that client. With 0
    nothing a client sends in those headers is believed."""
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]


def _pool_options(url: str, size: int) -> dict[str, Any]:
    """Connections each process keeps, and as many more in a burst. Under gevent a worker's greenlets share them,
    each holding one only while it talks to the database, and wait for one without blocking the others."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        return {}  # one connection shared by everyone (SQLAlchemy's StaticPool)
    options: dict[str, Any] = {"pool_size": size, "max_overflow": size, "pool_timeout": 30}
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg":
        # psycopg prepares a statement on the server after its fifth run, and PostgreSQL then settles on a generic
        # plan, one for every value: a search planned without its tsquery cannot tell a rare word from a common
        # one (measured: 88 ms against 22 ms for the same statement planned with its values).
        options["connect_args"] = {"prepare_threshold": None}
        if "options" not in parsed.query:
            # JIT compiling pays off for long analytical statements only: a search statement on a large archive is
            # costed above jit_above_cost and then spent 13 ms of its 58 compiling (1M segments, one character).
            options["connect_args"]["options"] = "-c jit=off"
    return options


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    transaction.init_app(app)
    change_log.init_app(app)
    search_index.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    jwt.init_app(app)
    http_api.init_app(app, api)
    console.init_app(app)
    queue.init_app(app)
    tasks.register(queue, app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _tune_sqlite(app)


# SQLite's own busy handler sleeps inside the C library, which under gevent would stop every request of the process
# while the writer it waits for (perhaps a request of the same process) cannot go on: the wait is done here instead,
# with time.sleep, which gevent turns into a cooperative pause. Same back-off as SQLite's, same 10 s limit.
_BUSY_DELAYS = (0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.025, 0.025, 0.05, 0.05, 0.1)
BUSY_TIMEOUT = 10.0


def _retry_while_busy(run: Any) -> None:
    """Run a statement; while the database is locked by another writer (plain SQLITE_BUSY), wait and run it again.
    A transaction whose snapshot went stale (SQLITE_BUSY_SNAPSHOT) fails at once, as with SQLite's handler."""
    waited = 0.0
    for attempt in itertools.count():
        try:
            run()
            return
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY or waited >= BUSY_TIMEOUT:
                raise
        delay = _BUSY_DELAYS[min(attempt, len(_BUSY_DELAYS) - 1)]
        time.sleep(delay)
        waited += delay


def _tune_sqlite(app: Flask) -> None:
    """WAL and a (cooperative) busy timeout let the API and the worker share one SQLite file without 'database is
    locked'."""
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=0")  # waiting is _retry_while_busy's job
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "do_execute")
    def _execute(cursor, statement, parameters, _context):  # type: ignore[no-untyped-def]
        _retry_while_busy(lambda: cursor.execute(statement, parameters))
        return True

    @event.listens_for(engine, "do_execute_no_params")
    def _execute_no_params(cursor, statement, _context):  # type: ignore[no-untyped-def]
        _retry_while_busy(lambda: cursor.execute(statement))
        return True

    @event.listens_for(engine, "do_executemany")
    def _executemany(cursor, statement, parameters, _context):  # type: ignore[no-untyped-def]
        _retry_while_busy(lambda: cursor.executemany(statement, parameters))
        return True


def _register_docs_assets(app: Flask) -> None:
    """Serve Swagger UI's files from the installed swagger-ui-bundle, so /api/docs works offline."""

    @app.route("/api/docs/assets/<path:filename>")
    def swagger_ui_assets(filename: str):  # type: ignore[no-untyped-def]
        return send_from_directory(str(swagger_ui_path), filename)
