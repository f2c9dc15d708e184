"""The `liufang` command: creating users, bootstrapping the first admin, the worker's task list, config table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backend.extensions import db
from backend.models import User


def test_users_create_with_password_from_stdin(app, runner):
    result = runner.invoke(args=["users", "create", "wangfang", "--role", "collector", "--role", "editor",
                                 "--display-name", "王芳", "--password-stdin"], input="field-work-2026\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.query(User).filter_by(username="wangfang").one()
        assert user.roles == ["collector", "editor"] and user.display_name == "王芳"
    login = app.test_client().post("/api/v1/auth/login", json={"username": "wangfang", "password": "field-work-2026"})
    assert login.status_code == 200


def test_users_create_refuses_bad_input(runner):
    weak = runner.invoke(args=["users", "create", "x1", "--role", "editor", "--password-stdin"], input="short\n")
    assert weak.exit_code != 0 and "weak_password" in weak.output
    bad_role = runner.invoke(args=["users", "create", "x2", "--role", "boss", "--password-stdin"], input="long-pass-1\n")
    assert bad_role.exit_code != 0


def test_ensure_admin_prints_password_once(app, runner):
    first = runner.invoke(args=["users", "ensure-admin"])
    assert first.exit_code == 0 and "password:" in first.output
    password = first.output.split("password:")[1].split()[0]
    login = app.test_client().post("/api/v1/auth/login", json={"username": "admin", "password": password})
    assert login.status_code == 200 and login.get_json()["user"]["roles"] == ["admin"]
    second = runner.invoke(args=["users", "ensure-admin"])
    assert second.exit_code == 0 and "password:" not in second.output


def test_console_script_honours_instance_path(tmp_path):
    """`liufang db upgrade` on a blank instance folder creates the SQLite database there."""
    env = {**os.environ, "LIUFANG_INSTANCE_PATH": str(tmp_path / "inst")}
    env.pop("DATABASE_URL", None)
    liufang = Path(sys.executable).parent / "liufang"
    result = subprocess.run([str(liufang), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "inst" / "liufang.db").exists()
    listing = subprocess.run([str(liufang), "users", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0 and listing.stdout == ""


def test_config_table_lists_every_setting(runner):
    from backend.config import SETTINGS

    result = runner.invoke(args=["config-table"])
    assert result.exit_code == 0
    for setting in SETTINGS:
        assert f"`{setting.env}`" in result.output
