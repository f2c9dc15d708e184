"""Settings come from the environment with typed parsing and clear errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend import create_app
from backend.config import ConfigError, load_from_env


def test_typed_parsing():
    values = load_from_env({"LIUFANG_TUS_MAX_SIZE": "2GiB", "LIUFANG_AUTO_TRANSCRIBE": "off",
                            "LIUFANG_JWT_ACCESS_MINUTES": "5", "LIUFANG_LOGIN_MAX_FAILURES": "3"})
    assert values["TUS_MAX_SIZE"] == 2 * 1024**3
    assert values["AUTO_TRANSCRIBE"] is False
    assert values["JWT_ACCESS_TOKEN_EXPIRES"] == timedelta(minutes=5)
    assert values["LOGIN_MAX_FAILURES"] == 3


def test_bad_values_name_the_variable():
    with pytest.raises(ConfigError, match="LIUFANG_LOGIN_MAX_FAILURES"):
        load_from_env({"LIUFANG_LOGIN_MAX_FAILURES": "many"})
    with pytest.raises(ConfigError, match="LIUFANG_AUTO_TRANSCRIBE"):
        load_from_env({"LIUFANG_AUTO_TRANSCRIBE": "perhaps"})


def test_embedded_defaults_live_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("LIUFANG_INSTANCE_PATH", str(tmp_path))
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'liufang.db'}"
    assert app.config["QUEUE_URL"] == f"sqlite:///{tmp_path / 'queue.db'}"
    key = app.config["SECRET_KEY"]
    assert len(key) >= 32 and (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert create_app().config["SECRET_KEY"] == key, "the generated key is kept across restarts"


def test_environment_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("LIUFANG_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/liufang")
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db/liufang"
    assert app.config["SECRET_KEY"] == "from-the-environment"


def test_readme_documents_every_setting():
    from pathlib import Path

    from backend.config import SETTINGS

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    missing = [setting.env for setting in SETTINGS if f"`{setting.env}`" not in readme]
    assert not missing, f"add these to the README's configuration table (`liufang config-table`): {missing}"


def test_asr_batch_size_reaches_the_transcription_options(app):
    from backend.services import transcripts

    assert load_from_env({"LIUFANG_ASR_BATCH_SIZE": "8"})["ASR_BATCH_SIZE"] == 8
    with pytest.raises(ConfigError, match="LIUFANG_ASR_BATCH_SIZE"):
        load_from_env({"LIUFANG_ASR_BATCH_SIZE": "-1"})
    with app.app_context():
        assert transcripts._options({"language": "zh"}).batch_size == 0, "sequential decoding by default"
        app.config["ASR_BATCH_SIZE"] = 8
        assert transcripts._options({"language": "zh"}).batch_size == 8
