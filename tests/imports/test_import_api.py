"""POST /api/v1/imports and friends: an archivist checks a manifest with a zip or a server directory, reads the problem
report, runs what passed, and a job that fails midway is retried from where it stopped."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backend.extensions import db
from backend.models import Import, ImportKey, Job, Material, Person
from backend.services import jobs as job_service
from backend.services import materials as material_service
from tests.api.helpers import assert_error
from tests.imports.conftest import counts, good_rows, stored_files, write_csv

pytestmark = pytest.mark.both_databases


def zipped(collection: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for path in sorted(collection.rglob("*")):
            if path.is_file():
                out.write(path, f"{collection.name}/{path.relative_to(collection).as_posix()}")
    return buffer.getvalue()


def post_import(client: Any, headers: dict[str, str], manifest: Path, *, archive: bytes | None = None,
                **form: str) -> Any:
    data: dict[str, Any] = {"manifest": (io.BytesIO(manifest.read_bytes()), manifest.name), **form}
    if archive is not None:
        data["archive"] = (io.BytesIO(archive), "旧藏.zip")
    return client.post("/api/v1/imports", data=data, content_type="multipart/form-data", headers=headers)


def test_an_archivist_checks_a_zip_reads_the_report_then_runs_it(app, client, auth, collection, tmp_path):
    archivist = auth("archivist")
    manifest = write_csv(tmp_path / "2003年旧藏.csv", good_rows())
    before, files_before = counts(app), stored_files(app)

    posted = post_import(client, archivist, manifest, archive=zipped(collection))

    assert posted.status_code == 202, posted.get_json()
    import_id = posted.get_json()["id"]
    checked = client.get(f"/api/v1/imports/{import_id}", headers=archivist).get_json()
    assert (checked["status"], checked["phase"], checked["dry_run"], checked["progress"]) == \
        ("succeeded", "checked", True, 100.0)
    assert checked["problems"] == [] and checked["counts"]["rows"] == 7 and checked["counts"]["files"] == 4
    assert (checked["batch"], checked["source_kind"], checked["source"]) == ("2003年旧藏", "archive", "旧藏.zip")
    unchanged = {k: v for k, v in counts(app).items() if k != "audit_events"}
    assert unchanged == {k: v for k, v in before.items() if k != "audit_events"}
    assert stored_files(app) == files_before, "a check stores nothing"

    ran = client.post(f"/api/v1/imports/{import_id}/run", headers=archivist)

    assert ran.status_code == 202, ran.get_json()
    done = client.get(f"/api/v1/imports/{import_id}", headers=archivist).get_json()
    assert (done["status"], done["phase"], done["dry_run"], done["rows_done"]) == ("succeeded", "done", False, 7)
    assert done["counts"]["created"] == {"person": 2, "interview": 1, "material": 4}
    assert done["bytes_done"] == done["bytes_total"] > 0
    with app.app_context():
        assert {m.original_filename for m in db.session.scalars(select(Material))} == {
            "剪纸生涯（一）.wav", "王秀英 1985.png", "李德明.png", "荣誉证书.pdf"}
    again = client.post(f"/api/v1/imports/{import_id}/run", headers=archivist)
    assert_error(again, 409, "import_finished")
    listed = client.get("/api/v1/imports", headers=archivist).get_json()
    assert listed["total"] == 1 and "problems" not in listed["items"][0]
    audit = client.get(f"/api/v1/audit?entity_type=import&entity_id={import_id}", headers=archivist).get_json()
    assert {event["action"] for event in audit["items"]} >= {"create", "check", "run", "finish"}


def test_the_report_names_rows_and_columns_and_a_failed_check_cannot_run(app, client, auth, collection, tmp_path):
    archivist = auth("archivist")
    rows = good_rows()
    rows[1]["类别/category"] = "劳模"
    rows[3]["文件/path"] = "录音/不存在.wav"
    posted = post_import(client, archivist, write_csv(tmp_path / "清单.csv", rows), archive=zipped(collection))
    record = client.get(f"/api/v1/imports/{posted.get_json()['id']}", headers=archivist).get_json()
    assert {(p["row"], p["column"], p["code"], p["severity"]) for p in record["problems"]} == {
        (3, "类别/category", "unknown_category", "error"), (5, "文件/path", "missing_file", "error")}
    assert record["counts"]["errors"] == 2
    assert_error(client.post(f"/api/v1/imports/{record['id']}/run", headers=archivist), 409, "import_has_errors")
    assert counts(app)["persons"] == 0


def test_a_directory_under_the_import_root(app, client, auth, collection, tmp_path):
    app.config["IMPORT_ROOT"] = str(collection.parent)
    archivist = auth("archivist")
    manifest = write_csv(tmp_path / "清单.csv", good_rows())
    posted = post_import(client, archivist, manifest, directory=collection.name, dry_run="false")
    assert posted.status_code == 202, posted.get_json()
    record = client.get(f"/api/v1/imports/{posted.get_json()['id']}", headers=archivist).get_json()
    assert record["status"] == "succeeded" and record["counts"]["created"]["material"] == 4
    for outside in ("../", "/etc", "旧藏 2003/../..", "不存在"):
        refused = post_import(client, archivist, manifest, directory=outside)
        assert_error(refused, 422, "unknown_directory")


def test_only_archivists_and_admins_import(app, client, auth, collection, tmp_path):
    manifest = write_csv(tmp_path / "清单.csv", good_rows())
    for role in ("collector", "editor"):
        assert_error(post_import(client, auth(role), manifest, archive=zipped(collection)), 403, "role_required")
        assert_error(client.get("/api/v1/imports", headers=auth(role)), 403, "role_required")
    assert_error(post_import(client, auth("anonymous"), manifest, archive=b"x"), 401)
    admin = post_import(client, auth("admin"), manifest, archive=zipped(collection))
    assert admin.status_code == 202
    assert_error(client.get(f"/api/v1/imports/{admin.get_json()['id']}", headers=auth("editor")), 403)
    assert client.get(f"/api/v1/imports/{admin.get_json()['id']}", headers=auth("archivist")).status_code == 200
    assert_error(client.get("/api/v1/imports/999", headers=auth("archivist")), 404, "import_not_found")


def test_bad_requests_are_clear_4xx(app, client, auth, collection, tmp_path):
    archivist = auth("archivist")
    manifest = write_csv(tmp_path / "清单.csv", good_rows())
    no_manifest = client.post("/api/v1/imports", data={"archive": (io.BytesIO(zipped(collection)), "a.zip")},
                              content_type="multipart/form-data", headers=archivist)
    assert_error(no_manifest, 422, "validation_error")
    both = post_import(client, archivist, manifest, archive=zipped(collection), directory="x")
    assert_error(both, 422, "invalid_import")
    assert_error(post_import(client, archivist, manifest, archive=b"not a zip at all"), 415, "unsupported_archive")
    assert_error(post_import(client, archivist, manifest, archive=zipped(collection), colour="red"), 422)
    assert_error(post_import(client, archivist, manifest, archive=zipped(collection), dry_run="maybe"), 422)
    app.config["IMPORT_MAX_ARCHIVE"] = 1000
    assert_error(post_import(client, archivist, manifest, archive=zipped(collection)), 413, "file_too_large")
    with app.app_context():
        assert db.session.scalar(select(Import.id)) is None
    assert not any((Path(app.instance_path) / "imports").glob("*")), "refused uploads leave no files behind"


def test_a_job_that_fails_midway_is_retried_from_where_it_stopped(app, client, auth, collection, tmp_path,
                                                                  monkeypatch):
    real_ingest = material_service.ingest
    calls = {"n": 0}

    def failing_second(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("storage went away")
        return real_ingest(*args, **kwargs)

    monkeypatch.setattr(material_service, "ingest", failing_second)
    archivist = auth("archivist")
    posted = post_import(client, archivist, write_csv(tmp_path / "清单.csv", good_rows()),
                         archive=zipped(collection), dry_run="false")
    record = client.get(f"/api/v1/imports/{posted.get_json()['id']}", headers=archivist).get_json()
    assert record["status"] == "succeeded", record
    # The second attempt found the persons, the interview and the first file under their keys.
    assert record["counts"]["skipped"] == 4 and record["counts"]["created"]["material"] == 3
    with app.app_context():
        job = db.session.get(Job, record["job_id"])
        assert (job.status, job.attempts) == ("succeeded", 2)
        assert db.session.query(Person).count() == 2 and db.session.query(Material).count() == 4
        assert db.session.query(ImportKey).count() == 7


def test_cancelling_a_queued_import(app, client, auth, collection, tmp_path, monkeypatch):
    monkeypatch.setattr(job_service, "send_after_commit", lambda job_id: None)  # the worker is busy elsewhere
    archivist = auth("archivist")
    posted = post_import(client, archivist, write_csv(tmp_path / "清单.csv", good_rows()), archive=zipped(collection))
    assert posted.get_json()["status"] == "queued"
    cancelled = client.post(f"/api/v1/imports/{posted.get_json()['id']}/cancel", headers=archivist)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert_error(client.post(f"/api/v1/imports/{posted.get_json()['id']}/cancel", headers=archivist), 409)
