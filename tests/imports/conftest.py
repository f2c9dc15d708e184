"""Fixtures for import tests: a legacy collection on disk (Chinese file names), manifests in CSV and XLSX, and a
way to look at what the database and the storage hold."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any, Callable

import openpyxl
import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.models import AuditEvent, Derivative, ImportKey, Interview, Material, Person, PersonMaterial
from tests.api.helpers import VALID_ID, VALID_ID_2, tiny_png
from tests.media.conftest import Samples

HEADER = ["类型/type", "编号/ref", "姓名/name", "类别/category", "性别/gender", "出生日期/birth_date",
          "身份证号/id_number", "生平/biography", "标题/title", "日期/date", "受访人/interviewees",
          "文件/path", "人物/persons", "访谈/interview", "拍摄时间/captured_at"]


def good_rows() -> list[dict[str, str]]:
    """Two persons, an interview of the first, a recording of it, two photos and a certificate."""
    return [
        {"类型/type": "人物", "编号/ref": "P1", "姓名/name": "王秀英", "类别/category": "名家", "性别/gender": "女",
         "出生日期/birth_date": "1938年5月", "身份证号/id_number": VALID_ID, "生平/biography": "剪纸艺人，自幼随母学艺。"},
        {"类型/type": "person", "编号/ref": "P2", "姓名/name": "李德明", "类别/category": "good_person",
         "出生日期/birth_date": "1950/3/7", "身份证号/id_number": VALID_ID_2},
        {"类型/type": "访谈", "编号/ref": "I1", "标题/title": "剪纸生涯口述", "日期/date": "2003-05",
         "受访人/interviewees": "P1"},
        {"类型/type": "文件", "编号/ref": "F1", "文件/path": "录音/剪纸生涯（一）.wav", "访谈/interview": "I1",
         "人物/persons": "P1", "标题/title": "剪纸生涯口述录音", "拍摄时间/captured_at": "2003-05-01 09:30"},
        {"类型/type": "文件", "编号/ref": "F2", "文件/path": "老照片\\王秀英 1985.png", "人物/persons": "P1；P2",
         "标题/title": "王秀英与李德明合影"},
        {"类型/type": "文件", "编号/ref": "F3", "文件/path": "老照片/李德明.png", "人物/persons": "P2"},
        {"类型/type": "文件", "编号/ref": "F4", "文件/path": "证书/荣誉证书.pdf", "人物/persons": "P2",
         "标题/title": "江苏好人证书"},
    ]


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None,
              encoding: str = "utf-8-sig") -> Path:
    header = header or HEADER
    with open(path, "w", encoding=encoding, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(column, "") for column in header])
    return path


def write_xlsx(path: Path, rows: list[dict[str, Any]], header: list[str] | None = None) -> Path:
    header = header or HEADER
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "清单"
    sheet.append(header)
    for row in rows:
        sheet.append([row.get(column) for column in header])
    workbook.save(path)
    return path


@pytest.fixture(scope="session")
def import_samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    return Samples(tmp_path_factory.mktemp("import-samples"))


@pytest.fixture
def collection(tmp_path: Path, import_samples: Samples) -> Path:
    """A legacy collection as an archive keeps it: folders and file names in Chinese."""
    root = tmp_path / "旧藏 2003"
    for folder in ("录音", "老照片", "证书"):
        (root / folder).mkdir(parents=True)
    shutil.copyfile(import_samples("tone.wav"), root / "录音" / "剪纸生涯（一）.wav")
    (root / "老照片" / "王秀英 1985.png").write_bytes(tiny_png(11))
    (root / "老照片" / "李德明.png").write_bytes(tiny_png(12))
    shutil.copyfile(import_samples("three_pages.pdf"), root / "证书" / "荣誉证书.pdf")
    return root


def counts(app: Any) -> dict[str, int]:
    """How many rows of each kind the database holds (what a dry run must leave alone)."""
    with app.app_context():
        return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
                for model in (Person, Interview, Material, PersonMaterial, Derivative, ImportKey, AuditEvent)}


def stored_files(app: Any) -> list[str]:
    media = Path(app.config["STORAGE_URL"])
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()) if media.exists() else []


@pytest.fixture
def run_import(app: Any, runner: Any, users: dict[str, int]) -> Callable[..., Any]:
    """``run_import(directory, manifest, "--dry-run", …)`` → the CLI result (as the archivist)."""

    def invoke(directory: Path, manifest: Path, *extra: str, user: str = "archivist") -> Any:
        return runner.invoke(args=["import", str(directory), "--manifest", str(manifest), "--as", user, *extra])

    return invoke
