"""A Liufang preservation package round-trips: exported as a BagIt bag (METS, EAC-CPF, Dublin Core), the archive
lost, the bag imported without a manifest — the persons, the interview, the files with their fixity, names, titles,
links and access levels come back, through the upload ingest, and importing the bag again creates nothing."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from backend.extensions import db
from backend.models import Interview, Material, Person
from tests.api.helpers import assert_error
from tests.packages.conftest import archive, make_package, stored_package, tone, unpack  # noqa: F401 - fixtures

# What an archive keeps when everything else is lost: the accounts.
_KEPT_TABLES = {"users", "token_families", "refresh_tokens", "revoked_tokens", "login_failures", "sync_state",
                "alembic_version"}


def snapshot(app: Any, *, leave_out: tuple[int, int] | None = None) -> dict[str, Any]:
    """What the package should bring back, by names (ids change); ``leave_out``: a person and a material that
    are not in it."""
    skip_person, skip_material = leave_out or (None, None)
    with app.app_context():
        everyone = list(db.session.scalars(select(Person).where(Person.id != skip_person)))
        persons = {p.id: p.name for p in everyone}
        return {
            "persons": sorted((p.name, p.category, p.gender, p.area_district, p.biography, tuple(p.aliases or ()),
                               p.birth_date, p.occupation) for p in everyone),
            "interviews": sorted((i.title, i.date, i.place, tuple(i.interviewers),
                                  tuple(sorted(persons[pid] for pid in i.interviewee_ids)))
                                 for i in db.session.scalars(select(Interview))),
            "materials": sorted((m.sha256, m.size, m.original_filename, m.title, m.kind, m.mime, m.access_level,
                                 tuple(sorted(persons[pid] for pid in m.person_ids)),
                                 db.session.get(Interview, m.interview_id).title if m.interview_id else None)
                                for m in db.session.scalars(select(Material).where(Material.id != skip_material))),
        }


def lose_everything_but_the_accounts(app: Any) -> None:
    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            if table.name not in _KEPT_TABLES:
                db.session.execute(text(f"DELETE FROM {table.name}"))
        db.session.commit()
    shutil.rmtree(app.config["STORAGE_URL"], ignore_errors=True)


def test_a_package_exported_then_imported_round_trips(app, client, auth, archive, make_package, tmp_path):
    export = make_package("person", [archive["person"]["id"]])
    bag = tmp_path / "package.zip"
    shutil.copyfile(stored_package(app, export), bag)
    before = snapshot(app, leave_out=(archive["other"]["id"], archive["others_photo"]["id"]))
    assert len(before["materials"]) == 3 and len(before["persons"]) == 1
    lose_everything_but_the_accounts(app)

    archivist = auth("archivist")
    posted = client.post("/api/v1/imports", headers=archivist, content_type="multipart/form-data",
                         data={"archive": (io.BytesIO(bag.read_bytes()), "package.zip"), "dry_run": "false"})

    assert posted.status_code == 202, posted.get_json()
    record = client.get(f"/api/v1/imports/{posted.get_json()['id']}", headers=archivist).get_json()
    assert record["status"] == "succeeded", record
    assert record["problems"] == [] and record["counts"]["created"] == {"person": 1, "interview": 1, "material": 3}
    assert snapshot(app) == before
    with app.app_context():
        recording = db.session.scalar(select(Material).where(Material.kind == "audio"))
        assert recording.status == "ready" and {d.variant for d in recording.derivatives} >= {"asr", "proxy"}

    again = client.post("/api/v1/imports", headers=archivist, content_type="multipart/form-data",
                        data={"archive": (io.BytesIO(bag.read_bytes()), "package.zip"), "dry_run": "false"})
    repeated = client.get(f"/api/v1/imports/{again.get_json()['id']}", headers=archivist).get_json()
    assert repeated["counts"]["created"] == {"person": 0, "interview": 0, "material": 0}
    assert repeated["counts"]["skipped"] == 5 and snapshot(app) == before


def test_an_unpacked_bag_on_the_command_line_and_a_tampered_one(app, client, auth, archive, make_package, runner,
                                                                 tmp_path):
    export = make_package("interview", [archive["interview"]["id"]])
    folder = unpack(stored_package(app, export).read_bytes(), tmp_path / "unpacked")
    checked = runner.invoke(args=["import", str(folder), "--as", "archivist", "--dry-run"])
    assert checked.exit_code == 0 and "错误 0" in checked.output, checked.output
    recording = next(folder.glob("data/objects/materials/*/original/*.wav"))
    data = bytearray(recording.read_bytes())
    data[-1] ^= 0xFF
    recording.write_bytes(bytes(data))
    tampered = runner.invoke(args=["import", str(folder), "--as", "archivist", "--dry-run"])
    assert tampered.exit_code == 1 and "sha256_mismatch" in tampered.output


def test_without_a_manifest_only_a_package_is_accepted(app, client, auth, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.png").write_bytes(b"\x89PNG")
    result = app.test_cli_runner().invoke(args=["import", str(plain), "--as", "archivist"])
    assert result.exit_code != 0 and "--manifest is needed" in result.output
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        out.writestr("a.png", b"\x89PNG")
    refused = client.post("/api/v1/imports", headers=auth("archivist"), content_type="multipart/form-data",
                          data={"archive": (io.BytesIO(buffer.getvalue()), "a.zip")})
    assert_error(refused, 422, "validation_error")
