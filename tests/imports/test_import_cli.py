"""`liufang import`: the dry run reports every problem by row and column and writes nothing; the real run goes
through the upload ingest, round-trips Chinese text and names, and creates nothing twice however often it is run
or wherever it was interrupted."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backend.extensions import db
from backend.models import AuditEvent, Import, ImportKey, Interview, Job, Material, Person
from backend.services import materials as material_service
from tests.api.helpers import VALID_ID, tiny_png, upload_png
from tests.imports.conftest import HEADER, counts, good_rows, stored_files, write_csv, write_xlsx


def problems_of(output_or_report: Any) -> set[tuple[Any, Any, str]]:
    return {(p["row"], p["column"], p["code"]) for p in output_or_report["problems"]}


def test_dry_run_reports_every_problem_by_row_and_column_and_writes_nothing(
        app, client, auth, collection, run_import, import_samples, tmp_path):
    archived = collection / "老照片" / "已存档.png"
    archived.write_bytes(tiny_png(77))
    upload_png(client, auth("collector"), 77)  # the same bytes are already in the archive
    shutil.copyfile(import_samples("notes.txt"), collection / "提纲.txt")
    outside = tmp_path / "外面.png"
    outside.write_bytes(tiny_png(78))
    (collection / "链接.png").symlink_to(outside)
    rows = good_rows() + [
        {"类型/type": "人物", "编号/ref": "P3", "姓名/name": "赵六", "类别/category": "英雄",      # row 9
         "出生日期/birth_date": "1938-02-30", "身份证号/id_number": VALID_ID[:-1] + "1"},
        {"类型/type": "人物", "编号/ref": "P4", "类别/category": "乡贤"},                            # row 10
        {"类型/type": "文件", "编号/ref": "F5", "文件/path": "老照片/不存在.png", "人物/persons": "P9"},  # row 11
        {"类型/type": "文件", "编号/ref": "F6", "文件/path": "老照片/李德明.png"},                   # row 12
        {"类型/type": "文件", "编号/ref": "F7", "文件/path": "老照片/已存档.png", "访谈/interview": "P1"},  # 13
        {"类型/type": "文件", "编号/ref": "F1", "文件/path": "证书/荣誉证书.pdf"},                    # row 14
        {"类型/type": "文件", "编号/ref": "F8", "文件/path": "../旧藏 2003/证书/荣誉证书.pdf"},        # row 15
        {"类型/type": "文件", "编号/ref": "F9", "文件/path": "提纲.txt"},                             # row 16
        {"类型/type": "文件", "编号/ref": "F10", "文件/path": "链接.png"},                            # row 17
        {"类型/type": "相册", "编号/ref": "X1"},                                                      # row 18
        {"类型/type": "访谈", "编号/ref": "I2", "日期/date": "2003年13月", "受访人/interviewees": "F1"},  # row 19
    ]
    manifest = write_csv(tmp_path / "清单.csv", rows, HEADER + ["民族 ", "籍贯/hometown"])
    before, files_before = counts(app), stored_files(app)

    result = run_import(collection, manifest, "--dry-run", "--report", str(tmp_path / "report.json"))

    assert result.exit_code == 1, result.output
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    found = problems_of(report)
    expected = {
        (1, "籍贯/hometown", "unknown_column"),
        (9, "类别/category", "unknown_category"),
        (9, "出生日期/birth_date", "bad_date"),
        (9, "身份证号/id_number", "bad_id_number"),
        (10, "姓名/name", "missing_value"),
        (11, "文件/path", "missing_file"),
        (11, "人物/persons", "bad_reference"),
        (12, "文件/path", "duplicate_file"),
        (13, "文件/path", "already_archived"),
        (13, "访谈/interview", "bad_reference"),
        (14, "编号/ref", "duplicate_ref"),
        (15, "文件/path", "bad_path"),
        (16, "文件/path", "unsupported_type"),
        (17, "文件/path", "outside_source"),
        (18, "类型/type", "unknown_type"),
        (19, "日期/date", "bad_date"),
        (19, "受访人/interviewees", "bad_reference"),
    }
    assert expected <= found, sorted(expected - found)
    assert not {p for p in found if p[0] in (2, 3, 4, 5, 6, 7, 8)}, "the good rows are reported clean"
    by_code = {p["code"]: p for p in report["problems"]}
    assert by_code["bad_id_number"]["message"] == "身份证号码校验位错误"
    assert "*" in by_code["bad_id_number"]["value"], "ID numbers are masked in reports"
    assert by_code["already_archived"]["severity"] == "warning"
    assert "第 12 行" in result.output or "第 13 行" in result.output
    assert counts(app) == before
    assert stored_files(app) == files_before
    with app.app_context():
        assert db.session.scalar(select(Import.id)) is None, "a dry run on the command line records nothing"


def test_the_real_run_imports_nothing_while_the_manifest_has_errors(app, collection, run_import, tmp_path):
    rows = good_rows() + [{"类型/type": "人物", "编号/ref": "P3", "姓名/name": "赵六", "类别/category": "英雄"}]
    before = counts(app)
    result = run_import(collection, write_csv(tmp_path / "清单.csv", rows))
    assert result.exit_code == 1
    assert "unknown_category" in result.output
    after = counts(app)
    assert {k: v for k, v in after.items() if k != "audit_events"} == \
        {k: v for k, v in before.items() if k != "audit_events"}
    with app.app_context():
        record = db.session.scalar(select(Import))
        assert record.status == "failed" and "1 处错误" in record.error


def test_an_import_goes_through_the_upload_ingest_and_keeps_chinese_names(app, collection, run_import, tmp_path):
    result = run_import(collection, write_csv(tmp_path / "2003年旧藏.csv", good_rows()))
    assert result.exit_code == 0, result.output
    assert "新建人物 2、访谈 1、资料 4" in result.output
    with app.app_context():
        persons = {p.name: p for p in db.session.scalars(select(Person))}
        assert set(persons) == {"王秀英", "李德明"}
        wang = persons["王秀英"]
        assert (wang.category, wang.gender, wang.birth_date, wang.status) == ("notable", "female", "1938-05", "draft")
        assert wang.id_number == VALID_ID and wang.biography == "剪纸艺人，自幼随母学艺。"
        assert persons["李德明"].birth_date == "1950-03-07"
        interview = db.session.scalar(select(Interview))
        assert (interview.title, interview.date, interview.interviewee_ids) == ("剪纸生涯口述", "2003-05", [wang.id])
        by_name = {m.original_filename: m for m in db.session.scalars(select(Material))}
        assert set(by_name) == {"剪纸生涯（一）.wav", "王秀英 1985.png", "李德明.png", "荣誉证书.pdf"}
        recording = by_name["剪纸生涯（一）.wav"]
        source = collection / "录音" / "剪纸生涯（一）.wav"
        assert recording.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
        assert recording.storage_key == f"originals/{recording.sha256[:2]}/{recording.sha256[2:4]}/{recording.sha256}"
        assert (recording.kind, recording.status, recording.interview_id) == ("audio", "ready", interview.id)
        assert {d.variant for d in recording.derivatives} >= {"asr", "proxy", "waveform"}
        assert recording.captured_at == datetime(2003, 5, 1, 1, 30, tzinfo=timezone.utc)  # 09:30 China time
        assert recording.title == "剪纸生涯口述录音"
        photo = by_name["王秀英 1985.png"]
        assert photo.person_ids == sorted(persons[n].id for n in ("王秀英", "李德明"))
        assert photo.title == "王秀英与李德明合影" and photo.derivative("thumbnail") is not None
        assert by_name["荣誉证书.pdf"].kind == "document" and by_name["荣誉证书.pdf"].status == "ready"
        assert source.exists(), "the legacy collection is read, never moved"
        processed = db.session.scalars(select(Job).where(Job.kind == "process_material")).all()
        assert len(processed) == 4 and {job.status for job in processed} == {"succeeded"}
        record = db.session.scalar(select(Import))
        assert (record.status, record.batch, record.rows_done) == ("succeeded", "2003年旧藏", 7)
        imported = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "import")).all()
        assert len(imported) == 7
        assert all(e.comment.startswith("批量导入：批次“2003年旧藏”第 ") for e in imported)
        assert {e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "import"))} \
            == {"create", "finish"}
    assert all(part.isascii() for key in stored_files(app) for part in key), "storage keys never come from names"


def test_running_it_again_creates_nothing_twice(app, collection, run_import, tmp_path):
    manifest = write_csv(tmp_path / "清单.csv", good_rows())
    assert run_import(collection, manifest).exit_code == 0
    first = counts(app)
    again = run_import(collection, manifest)
    assert again.exit_code == 0, again.output
    assert "新建人物 0、访谈 0、资料 0" in again.output and "跳过已导入 7" in again.output
    assert {k: v for k, v in counts(app).items() if k != "audit_events"} == \
        {k: v for k, v in first.items() if k != "audit_events"}
    dry = run_import(collection, manifest, "--dry-run")
    assert dry.exit_code == 0 and "已导入过 7 行" in dry.output and "already_archived" not in dry.output


def test_an_import_that_fails_midway_resumes_where_it_stopped(app, collection, run_import, tmp_path, monkeypatch):
    real_ingest = material_service.ingest
    calls = {"n": 0}

    def failing_third(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk unplugged")
        return real_ingest(*args, **kwargs)

    monkeypatch.setattr(material_service, "ingest", failing_third)
    manifest = write_csv(tmp_path / "清单.csv", good_rows())
    broken = run_import(collection, manifest)
    assert broken.exit_code == 1 and "disk unplugged" in broken.output
    with app.app_context():
        assert db.session.query(Person).count() == 2 and db.session.query(Interview).count() == 1
        assert db.session.query(Material).count() == 2, "the files before the failure are kept"
        assert db.session.scalar(select(Import.status)) == "failed"
    monkeypatch.setattr(material_service, "ingest", real_ingest)

    resumed = run_import(collection, manifest)

    assert resumed.exit_code == 0, resumed.output
    assert "新建人物 0、访谈 0、资料 2" in resumed.output and "跳过已导入 5" in resumed.output
    with app.app_context():
        assert db.session.query(Person).count() == 2 and db.session.query(Material).count() == 4
        assert db.session.query(ImportKey).count() == 7
        names = [m.original_filename for m in db.session.scalars(select(Material))]
        assert len(names) == len(set(names)) == 4


def test_an_xlsx_manifest_with_excel_typed_cells(app, collection, run_import, tmp_path):
    rows = good_rows()
    rows[0]["出生日期/birth_date"] = datetime(1938, 5, 12)   # a date cell
    rows[1]["身份证号/id_number"] = 320781193805120013       # a number cell: Excel dropped the last digits
    rows[2]["日期/date"] = 2003                               # a bare year as a number
    rows[3]["拍摄时间/captured_at"] = datetime(2003, 5, 1, 9, 30)
    rows.append({"类型/type": "人物", "编号/ref": "P3", "姓名/name": "孙七", "类别/category": "乡贤",
                 "身份证号/id_number": "320781400101001"})  # 15 digits, first generation
    manifest = write_xlsx(tmp_path / "清单.xlsx", rows)
    checked = run_import(collection, manifest, "--dry-run", "--report", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert problems_of(report) == {(3, "身份证号/id_number", "id_number_as_number"),
                                   (9, "身份证号/id_number", "id_number_converted")}
    assert checked.exit_code == 1
    rows[1]["身份证号/id_number"] = "320781193805120013"
    assert run_import(collection, write_xlsx(tmp_path / "清单.xlsx", rows)).exit_code == 0
    with app.app_context():
        persons = {p.name: p for p in db.session.scalars(select(Person))}
        assert persons["王秀英"].birth_date == "1938-05-12"
        assert persons["孙七"].id_number == "320781194001010016"
        assert db.session.scalar(select(Interview.date)) == "2003"


def test_a_gb18030_csv_and_a_zip_made_on_chinese_windows(app, collection, run_import, tmp_path):
    """Excel on Chinese Windows saves CSV in GB 18030 and its zip tool stores GBK names without the UTF-8 flag."""
    names = {"录音/剪纸生涯（一）.wav": "录音/剪纸生涯（一）.wav", "老照片/王秀英 1985.png": "老照片/王秀英 1985.png",
             "老照片/李德明.png": "老照片/李德明.png", "证书/荣誉证书.pdf": "证书/荣誉证书.pdf"}
    archive = tmp_path / "旧藏.zip"
    placeholders = {}
    with zipfile.ZipFile(archive, "w") as out:
        for index, name in enumerate(names):
            encoded = name.encode("gbk")
            placeholder = f"{index:0{len(encoded)}d}"
            placeholders[placeholder.encode("ascii")] = encoded
            out.write(collection / name, placeholder)
    data = archive.read_bytes()
    for placeholder, encoded in placeholders.items():
        data = data.replace(placeholder, encoded)
    archive.write_bytes(data)
    with zipfile.ZipFile(archive) as check:
        assert not any(info.flag_bits & 0x800 for info in check.infolist())
    manifest = write_csv(tmp_path / "清单.csv", good_rows(), encoding="gb18030")
    result = run_import(archive, manifest)
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert {m.original_filename for m in db.session.scalars(select(Material))} == {
            "剪纸生涯（一）.wav", "王秀英 1985.png", "李德明.png", "荣誉证书.pdf"}
        assert db.session.scalar(select(Person.biography).where(Person.name == "王秀英")) == "剪纸艺人，自幼随母学艺。"


def test_only_an_archivist_may_import(app, collection, run_import, tmp_path):
    result = run_import(collection, write_csv(tmp_path / "清单.csv", good_rows()), user="editor")
    assert result.exit_code != 0 and "allowed to import" in result.output
    assert counts(app)["persons"] == 0


def _liufang(env: dict[str, str], *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    liufang = Path(sys.executable).parent / "liufang"
    return subprocess.run([str(liufang), *args], env=env, capture_output=True, text=True, timeout=300, **kwargs)


def test_an_import_killed_mid_run_resumes_and_creates_nothing_twice(tmp_path):
    """A real `liufang import` process is killed (SIGKILL) while it imports; the same command run again finishes
    the job, and every row exists exactly once."""
    env = {**os.environ, "LIUFANG_INSTANCE_PATH": str(tmp_path / "inst"), "LIUFANG_AUTO_TRANSCRIBE": "false",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("DATABASE_URL", None)
    assert _liufang(env, "db", "upgrade").returncode == 0
    assert _liufang(env, "users", "create", "danganyuan", "--role", "archivist", "--password-stdin",
                    input="archive-pass-2026\n").returncode == 0
    folder = tmp_path / "照片"
    folder.mkdir()
    rows = [{"类型/type": "人物", "编号/ref": "P1", "姓名/name": "周老师", "类别/category": "乡贤"}]
    for number in range(24):
        (folder / f"第{number:02d}张.png").write_bytes(tiny_png(1000 + number))
        rows.append({"类型/type": "文件", "编号/ref": f"F{number}", "文件/path": f"第{number:02d}张.png",
                     "人物/persons": "P1"})
    manifest = write_csv(tmp_path / "照片.csv", rows)
    database = tmp_path / "inst" / "liufang.db"
    liufang = Path(sys.executable).parent / "liufang"
    process = subprocess.Popen([str(liufang), "import", str(folder), "--manifest", str(manifest), "--as",
                                "danganyuan"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def materials_stored() -> int:
        with sqlite3.connect(database, timeout=30) as connection:
            return connection.execute("SELECT count(*) FROM materials").fetchone()[0]

    try:
        deadline = time.monotonic() + 120
        while materials_stored() < 4:
            assert process.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    killed_at = materials_stored()
    assert 4 <= killed_at < 24

    resumed = _liufang(env, "import", str(folder), "--manifest", str(manifest), "--as", "danganyuan")

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "新建人物 0" in resumed.stdout and f"资料 {24 - killed_at}；" in resumed.stdout
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT count(*) FROM persons").fetchone()[0] == 1
        assert connection.execute("SELECT count(*), count(DISTINCT sha256) FROM materials").fetchone() == (24, 24)
        assert connection.execute("SELECT count(*) FROM import_keys").fetchone()[0] == 25
        assert connection.execute("SELECT count(*) FROM person_materials").fetchone()[0] == 24
        assert connection.execute("SELECT status FROM imports ORDER BY id").fetchall() == [("failed",), ("succeeded",)]
    assert not any((tmp_path / "inst" / "uploads" / "imports").glob("*")), "no temporary copy is left behind"


def test_the_example_manifest_in_the_repository_imports_clean(app, run_import, import_samples, tmp_path):
    """examples/import/manifest.csv (every column, as the README documents them) with files of its names."""
    example = Path(__file__).resolve().parents[2] / "examples" / "import" / "manifest.csv"
    folder = tmp_path / "示例"
    for relative, sample in (("录音/剪纸生涯（一）.wav", "tone.wav"), ("证书/李德明 江苏好人证书.pdf", "three_pages.pdf"),
                             ("老照片/王秀英与李德明 1985.jpg", "photo_gps.jpg")):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(import_samples(sample), folder / relative)
    checked = run_import(folder, example, "--dry-run")
    assert checked.exit_code == 0 and "错误 0，提示 0" in checked.output, checked.output
    assert run_import(folder, example).exit_code == 0
    with app.app_context():
        wang = db.session.scalar(select(Person).where(Person.name == "王秀英"))
        assert wang.honours[0] == {"title": "江苏省非物质文化遗产代表性传承人", "year": 2009, "conferred_by": None}
        assert (wang.area, wang.aliases, wang.tags) == (
            {"district": "海州区", "town": "新坝镇", "village": "新坝村"}, ["剪纸奶奶"], ["剪纸", "非遗"])
        levels = {m.title: (m.access_level, m.embargo_until) for m in db.session.scalars(select(Material))}
        assert levels == {"剪纸生涯口述（一）": ("restricted", None), "王秀英与李德明合影": ("open", None),
                          "江苏好人证书": ("restricted", date(2030, 1, 1))}
        interview = db.session.scalar(select(Interview))
        assert (interview.interviewers, interview.language) == (["张敏", "刘洋"], "连云港方言")


def test_interviews_and_files_go_into_a_collection_project(app, client, auth, collection, run_import, tmp_path):
    project = client.post("/api/v1/projects", json={"title": "连云港剪纸记忆"}, headers=auth("archivist"))
    assert project.status_code == 201, project.get_json()
    rows = good_rows()
    header = HEADER + ["项目/project"]
    rows[2]["项目/project"] = "连云港剪纸记忆"               # the interview, by title
    rows[5]["项目/project"] = f"#{project.get_json()['id']}"  # a photo, by id
    rows[6]["项目/project"] = "不存在的项目"
    checked = run_import(collection, write_csv(tmp_path / "清单.csv", rows, header), "--dry-run",
                         "--report", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert checked.exit_code == 1 and problems_of(report) == {(8, "项目/project", "unknown_project")}
    rows[6]["项目/project"] = ""
    assert run_import(collection, write_csv(tmp_path / "清单.csv", rows, header)).exit_code == 0
    with app.app_context():
        project_id = project.get_json()["id"]
        assert db.session.scalar(select(Interview.project_id)) == project_id
        filed = {m.original_filename: m.project_id for m in db.session.scalars(select(Material))}
        # the recording of the interview follows its interview into the project, as an upload does
        assert filed == {"剪纸生涯（一）.wav": project_id, "王秀英 1985.png": None, "李德明.png": project_id,
                         "荣誉证书.pdf": None}
