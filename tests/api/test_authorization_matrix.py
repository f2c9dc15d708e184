"""Every endpoint × every role: anonymous, collector (owner), other collector, editor, archivist, admin."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any, Callable

import pytest

from tests.api.helpers import advance, make_person, make_publishable, upload_png
from tests.public.helpers import with_redaction
from tests.review.helpers import review_setup, with_if_match
from tests.uploads.helpers import an_upload, tus_request

ROLES = ("anonymous", "collector", "other_collector", "editor", "archivist", "admin")


def person_in(*actions: str) -> Callable[..., dict[str, Any]]:
    """Setup: a profile created by `collector`, moved through ``actions``."""

    def setup(client: Any, auth: Any, app: Any) -> dict[str, Any]:
        person = make_person(client, auth("collector"), name="测试人物")
        if actions:
            advance(client, person["id"], auth("collector"), actions[0])
            advance(client, person["id"], auth("archivist"), *actions[1:])
        return {"id": person["id"], "etag": etag_of(client, auth, f"/api/v1/persons/{person['id']}")}

    return setup


def etag_of(client: Any, auth: Any, url: str) -> str:
    return client.get(url, headers=auth("admin")).headers["ETag"]


def with_etag(body: Any) -> Callable[..., dict[str, Any]]:
    """Matrix body: the JSON plus If-Match with the record's ETag as the setup read it (``ids["etag"]``); the
    matrix sends its own headers, so If-Match goes in through the environ."""

    def request_args(ids: dict[str, Any]) -> dict[str, Any]:
        return {"json": body, "environ_base": {"HTTP_IF_MATCH": ids["etag"]}}

    return request_args


def a_user(client: Any, auth: Any, app: Any) -> dict[str, Any]:
    return {"id": client.get("/api/v1/auth/me", headers=auth("editor")).get_json()["id"]}


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def png_form() -> dict[str, Any]:
    return {"data": {"file": (io.BytesIO(png_bytes()), "照片.png")}, "content_type": "multipart/form-data"}


def a_material(client: Any, auth: Any, app: Any) -> dict[str, Any]:
    """Setup: a restricted photo uploaded by `collector`, linked to the collector's draft profile."""
    person = make_person(client, auth("collector"), name="照片中的人")
    form = png_form()
    form["data"]["person_id"] = str(person["id"])
    response = client.post("/api/v1/materials", headers=auth("collector"), **form)
    assert response.status_code == 201, response.get_json()
    material_id = response.get_json()["id"]
    return {"id": material_id, "person_id": person["id"],
            "etag": etag_of(client, auth, f"/api/v1/materials/{material_id}")}


def an_interview(client: Any, auth: Any, app: Any) -> dict[str, Any]:
    response = client.post("/api/v1/interviews", json={"title": "访谈"}, headers=auth("collector"))
    interview_id = response.get_json()["id"]
    return {"id": interview_id, "etag": etag_of(client, auth, f"/api/v1/interviews/{interview_id}")}


def a_project(client: Any, auth: Any, app: Any) -> dict[str, Any]:
    """Setup: a collection project that `collector` (not `other_collector`) is assigned to."""
    collector = client.get("/api/v1/auth/me", headers=auth("collector")).get_json()["id"]
    response = client.post("/api/v1/projects", json={"title": "连云港保卫战", "collector_ids": [collector]},
                           headers=auth("archivist"))
    project_id = response.get_json()["id"]
    return {"id": project_id, "etag": etag_of(client, auth, f"/api/v1/projects/{project_id}")}


def a_transcript(client: Any, auth: Any, app: Any) -> dict[str, Any]:
    """Setup: a stored machine transcript of a material uploaded by `collector` (authorisation only; the
    transcription itself is tested in tests/transcripts)."""
    from backend.extensions import db
    from backend.models import Transcript, TranscriptSegment

    ids = a_material(client, auth, app)
    with app.app_context():
        transcript = Transcript(material_id=ids["id"], engine="faster-whisper", model="base", language="zh",
                                duration=3.0, segments=[TranscriptSegment(index=0, start=0.0, end=2.5, text="你好")])
        db.session.add(transcript)
        db.session.commit()
        return {**ids, "transcript_id": transcript.id}


def a_job(status: str) -> Callable[..., dict[str, Any]]:
    def setup(client: Any, auth: Any, app: Any) -> dict[str, Any]:
        from backend.extensions import db
        from backend.models import Job, Material

        material_id = a_material(client, auth, app)["id"]
        with app.app_context():
            collector = db.session.get(Material, material_id).collector_id
            job = Job(id=f"job{material_id}x", kind="process_material", status=status, material_id=material_id,
                      created_by_id=collector)
            db.session.add(job)
            db.session.commit()
            return {"id": job.id}

    return setup


def ready_to_publish(client: Any, auth: Any, app: Any) -> dict[str, Any]:
    """Setup: an approved profile that passes the publication checklist (material and public consent)."""
    ids = person_in("submit", "approve")(client, auth, app)
    make_publishable(client, ids["id"], auth("archivist"))
    return ids


def a_consent_form(client: Any, auth: Any, app: Any) -> dict[str, Any]:
    """Setup: `collector`'s draft profile and a signed form the collector photographed (not yet recorded)."""
    person = make_person(client, auth("collector"), name="授权人")
    form = upload_png(client, auth("collector"), person["id"], 7, title="授权书")
    return {"id": person["id"], "form_id": form["id"]}


def a_consent(client: Any, auth: Any, app: Any) -> dict[str, Any]:
    """Setup: a public consent recorded by `collector` for their own draft profile."""
    ids = a_consent_form(client, auth, app)
    response = client.post(f"/api/v1/persons/{ids['id']}/consents", headers=auth("collector"),
                           json={"scope": "public", "signed_at": "2024-05-01", "material_id": ids["form_id"]})
    assert response.status_code == 201, response.get_json()
    return {**ids, "consent_id": response.get_json()["id"]}


def a_notification(client: Any, auth: Any, app: Any) -> dict[str, Any]:
    """Setup: `collector`'s profile returned by an archivist, which notifies the collector."""
    person_in("submit", "return")(client, auth, app)
    items = client.get("/api/v1/me/notifications", headers=auth("collector")).get_json()["items"]
    return {"id": items[0]["id"]}


def an_import(status: str = "succeeded") -> Callable[..., dict[str, Any]]:
    """Setup: an archivist's import record (a passed check, or one queued with its job)."""

    def setup(client: Any, auth: Any, app: Any) -> dict[str, Any]:
        from backend.extensions import db
        from backend.models import Import, Job

        archivist = client.get("/api/v1/auth/me", headers=auth("archivist")).get_json()["id"]
        with app.app_context():
            record = Import(status=status, dry_run=True, batch="旧藏", source_kind="archive", source_label="a.zip",
                            manifest_name="清单.csv", created_by_id=archivist, counts={"errors": 0}, problems=[])
            db.session.add(record)
            db.session.flush()
            if status == "queued":
                job = Job(id=f"import{record.id}x", kind="import", status="queued", params={"import_id": record.id},
                          created_by_id=archivist)
                db.session.add(job)
                record.job_id = job.id
            db.session.commit()
            return {"id": record.id}

    return setup


def import_form() -> dict[str, Any]:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("照片.png", png_bytes())
    manifest = "类型/type,编号/ref,文件/path\n文件,F1,照片.png\n".encode("utf-8")
    return {"data": {"manifest": (io.BytesIO(manifest), "清单.csv"), "archive": (io.BytesIO(archive.getvalue()),
                                                                                   "旧藏.zip")},
            "content_type": "multipart/form-data"}


# (name, method, path template, json body, setup, expected status per role in ROLES order)
def an_export(client: Any, auth: Any, app: Any) -> dict[str, Any]:
    """A finished preservation package of a profile with one photo (tests/packages)."""
    person = make_person(client, auth("collector"), name="封装人物")
    upload_png(client, auth("collector"), 77, person_id=str(person["id"]))
    response = client.post("/api/v1/exports", json={"scope": "person", "ids": [person["id"]]},
                           headers=auth("archivist"))
    assert response.status_code == 202, response.get_json()
    return {"export_id": response.get_json()["id"], "person_id": person["id"]}


MATRIX: list[tuple[str, str, str, Any, Any, tuple[int, ...]]] = [
    ("me", "GET", "/api/v1/auth/me", None, None, (401, 200, 200, 200, 200, 200)),
    ("logout", "POST", "/api/v1/auth/logout", None, None, (401, 204, 204, 204, 204, 204)),
    ("list users", "GET", "/api/v1/users", None, None, (401, 403, 403, 403, 403, 200)),
    ("create user", "POST", "/api/v1/users", {"username": "newbie", "password": "long-enough-1", "roles": ["editor"]},
     None, (401, 403, 403, 403, 403, 201)),
    ("get user", "GET", "/api/v1/users/{id}", None, a_user, (401, 403, 403, 403, 403, 200)),
    ("patch user", "PATCH", "/api/v1/users/{id}", {"display_name": "新名字"}, a_user, (401, 403, 403, 403, 403, 200)),
    ("list persons", "GET", "/api/v1/persons", None, None, (401, 200, 200, 200, 200, 200)),
    ("create person", "POST", "/api/v1/persons", {"category": "notable", "name": "新人物"}, None,
     (401, 201, 201, 201, 201, 201)),
    ("get draft", "GET", "/api/v1/persons/{id}", None, person_in(), (401, 200, 404, 200, 200, 200)),
    ("get published", "GET", "/api/v1/persons/{id}", None, person_in("submit", "approve", "publish"),
     (401, 200, 200, 200, 200, 200)),
    ("patch draft", "PATCH", "/api/v1/persons/{id}", with_etag({"occupation": "渔民"}), person_in(),
     (401, 200, 404, 200, 200, 200)),
    # the collector's own draft that nobody else has edited may be patched without If-Match; others may not
    ("patch draft without If-Match", "PATCH", "/api/v1/persons/{id}", {"occupation": "渔民"}, person_in(),
     (401, 200, 404, 428, 428, 428)),
    ("patch submitted", "PATCH", "/api/v1/persons/{id}", with_etag({"occupation": "渔民"}), person_in("submit"),
     (401, 403, 404, 200, 200, 200)),
    ("patch submitted without If-Match", "PATCH", "/api/v1/persons/{id}", {"occupation": "渔民"},
     person_in("submit"), (401, 403, 404, 428, 428, 428)),
    ("patch published", "PATCH", "/api/v1/persons/{id}", with_etag({"occupation": "渔民"}),
     person_in("submit", "approve", "publish"), (401, 403, 403, 403, 200, 200)),
    ("delete draft", "DELETE", "/api/v1/persons/{id}", None, person_in(), (401, 204, 404, 403, 403, 204)),
    ("submit", "POST", "/api/v1/persons/{id}/submit", with_etag(None), person_in(), (401, 200, 404, 200, 200, 200)),
    ("approve", "POST", "/api/v1/persons/{id}/approve", with_etag(None), person_in("submit"), (401, 403, 404, 403, 200, 200)),
    ("return", "POST", "/api/v1/persons/{id}/return", with_etag({"comment": "请补充"}), person_in("submit"),
     (401, 403, 404, 403, 200, 200)),
    ("publish", "POST", "/api/v1/persons/{id}/publish", with_etag(None), ready_to_publish,
     (401, 403, 404, 403, 200, 200)),
    ("withdraw", "POST", "/api/v1/persons/{id}/withdraw", with_etag(None), person_in("submit", "approve", "publish"),
     (401, 403, 403, 403, 200, 200)),
    ("approve without If-Match", "POST", "/api/v1/persons/{id}/approve", None, person_in("submit"),
     (401, 403, 404, 403, 428, 428)),
    ("list materials", "GET", "/api/v1/materials", None, None, (401, 200, 200, 200, 200, 200)),
    ("upload material", "POST", "/api/v1/materials", png_form, None, (401, 201, 201, 201, 201, 201)),
    ("get material", "GET", "/api/v1/materials/{id}", None, a_material, (401, 200, 404, 200, 200, 200)),
    ("patch material", "PATCH", "/api/v1/materials/{id}", with_etag({"title": "新标题"}), a_material,
     (401, 200, 404, 200, 200, 200)),
    ("patch material without If-Match", "PATCH", "/api/v1/materials/{id}", {"title": "新标题"}, a_material,
     (401, 428, 404, 428, 428, 428)),
    ("material content", "GET", "/api/v1/materials/{id}/content?variant=thumbnail", None, a_material,
     (401, 200, 404, 200, 200, 200)),
    ("material persons", "GET", "/api/v1/materials/{id}/persons", None, a_material, (401, 200, 404, 200, 200, 200)),
    ("link person", "POST", "/api/v1/materials/{id}/persons", lambda ids: {"json": {"person_id": ids["person_id"],
                                                                                 "role": "donor"}},
     a_material, (401, 200, 404, 200, 200, 200)),
    ("unlink person", "DELETE", "/api/v1/materials/{id}/persons/{person_id}", None, a_material,
     (401, 200, 404, 200, 200, 200)),
    ("fixity", "GET", "/api/v1/materials/{id}/fixity", None, a_material, (401, 403, 403, 403, 200, 200)),
    ("material text", "GET", "/api/v1/materials/{id}/text", None, a_material, (401, 200, 404, 200, 200, 200)),
    ("material text revisions", "GET", "/api/v1/materials/{id}/text/revisions", None, a_material,
     (401, 200, 404, 200, 200, 200)),
    ("correct material text", "PUT", "/api/v1/materials/{id}/text",
     lambda ids: {"json": {"pages": [{"number": 1, "lines": [{"text": "荣誉证书"}]}]},
                  "environ_base": {"HTTP_IF_MATCH": '"0"'}}, a_material, (401, 200, 404, 200, 200, 200)),
    ("correct material text without If-Match", "PUT", "/api/v1/materials/{id}/text",
     {"pages": [{"number": 1, "lines": [{"text": "荣誉证书"}]}]}, a_material, (401, 428, 404, 428, 428, 428)),
    ("read material text again", "POST", "/api/v1/materials/{id}/text/ocr", {}, a_material,
     (401, 202, 404, 202, 202, 202)),
    ("person materials", "GET", "/api/v1/persons/{person_id}/materials", None, a_material,
     (401, 200, 404, 200, 200, 200)),
    ("list interviews", "GET", "/api/v1/interviews", None, None, (401, 200, 200, 200, 200, 200)),
    ("create interview", "POST", "/api/v1/interviews", {"title": "渔村记忆"}, None, (401, 201, 201, 201, 201, 201)),
    ("get interview", "GET", "/api/v1/interviews/{id}", None, an_interview, (401, 200, 404, 200, 200, 200)),
    ("patch interview", "PATCH", "/api/v1/interviews/{id}", with_etag({"place": "连岛"}), an_interview,
     (401, 200, 404, 200, 200, 200)),
    ("patch interview without If-Match", "PATCH", "/api/v1/interviews/{id}", {"place": "连岛"}, an_interview,
     (401, 428, 404, 428, 428, 428)),
    ("delete interview", "DELETE", "/api/v1/interviews/{id}", None, an_interview, (401, 204, 404, 403, 403, 204)),
    ("approve interview", "POST", "/api/v1/interviews/{id}/approve", with_etag(None), an_interview,
     (401, 403, 403, 403, 200, 200)),
    ("list projects", "GET", "/api/v1/projects", None, a_project, (401, 200, 200, 200, 200, 200)),
    ("create project", "POST", "/api/v1/projects", {"title": "渔村记忆"}, None, (401, 403, 403, 403, 201, 201)),
    ("get project", "GET", "/api/v1/projects/{id}", None, a_project, (401, 200, 404, 200, 200, 200)),
    ("patch project", "PATCH", "/api/v1/projects/{id}", with_etag({"place": "连岛"}), a_project,
     (401, 403, 403, 403, 200, 200)),
    ("patch project without If-Match", "PATCH", "/api/v1/projects/{id}", {"place": "连岛"}, a_project,
     (401, 403, 403, 403, 428, 428)),
    ("project receipt", "GET", "/api/v1/projects/{id}/receipt", None, a_project, (401, 403, 403, 403, 200, 200)),
    ("person receipt", "GET", "/api/v1/persons/{id}/receipt", None, person_in("submit"),
     (401, 403, 403, 403, 200, 200)),
    ("get job", "GET", "/api/v1/jobs/{id}", None, a_job("succeeded"), (401, 200, 404, 200, 200, 200)),
    ("cancel job", "POST", "/api/v1/jobs/{id}/cancel", None, a_job("queued"), (401, 200, 404, 200, 200, 200)),
    # a photo cannot be transcribed: who passes the gate gets 422, who may not see it 404
    ("request transcription", "POST", "/api/v1/materials/{id}/transcripts", {}, a_material,
     (401, 422, 404, 422, 422, 422)),
    ("list transcripts", "GET", "/api/v1/materials/{id}/transcripts", None, a_transcript,
     (401, 200, 404, 200, 200, 200)),
    ("get transcript", "GET", "/api/v1/transcripts/{transcript_id}", None, a_transcript,
     (401, 200, 404, 200, 200, 200)),
    ("export transcript", "GET", "/api/v1/transcripts/{transcript_id}/export?format=txt", None, a_transcript,
     (401, 200, 404, 200, 200, 200)),
    ("list redactions", "GET", "/api/v1/transcripts/{transcript_id}/redactions", None, a_transcript,
     (401, 403, 403, 200, 200, 200)),
    ("add redaction", "POST", "/api/v1/transcripts/{transcript_id}/redactions",
     {"start": 0.5, "end": 1.5, "reason": "third_party"}, a_transcript, (401, 403, 403, 201, 201, 201)),
    ("delete redaction", "DELETE", "/api/v1/transcripts/{transcript_id}/redactions/{redaction_id}", None,
     with_redaction(a_transcript), (401, 403, 403, 204, 204, 204)),
    ("stats", "GET", "/api/v1/stats", None, None, (401, 403, 403, 403, 200, 200)),
    ("list consents", "GET", "/api/v1/persons/{id}/consents", None, a_consent, (401, 200, 404, 200, 200, 200)),
    ("record consent", "POST", "/api/v1/persons/{id}/consents",
     lambda ids: {"json": {"scope": "research", "signed_at": "2024-05-01", "material_id": ids["form_id"]}},
     a_consent_form, (401, 201, 404, 403, 201, 201)),
    ("withdraw consent", "POST", "/api/v1/persons/{id}/consents/{consent_id}/withdraw", {"reason": "本人要求"},
     a_consent, (401, 403, 404, 403, 200, 200)),
    ("list notifications", "GET", "/api/v1/me/notifications", None, None, (401, 200, 200, 200, 200, 200)),
    ("read notification", "POST", "/api/v1/me/notifications/{id}/read", None, a_notification,
     (401, 200, 404, 404, 404, 404)),
    ("offline sync", "GET", "/api/v1/sync", None, None, (401, 200, 200, 200, 200, 200)),
    ("search", "GET", "/api/v1/search?q=张", None, None, (401, 200, 200, 200, 200, 200)),
    ("read all notifications", "POST", "/api/v1/me/notifications/read-all", None, None,
     (401, 200, 200, 200, 200, 200)),
    # transcript review (tests/review): edits need If-Match and staff roles; reading the lineage follows the material
    ("review queue", "GET", "/api/v1/transcripts?status=machine&flagged=true", None, None,
     (401, 403, 403, 200, 200, 200)),
    ("claim transcript", "POST", "/api/v1/transcripts/{id}/claim", None, review_setup(),
     (401, 403, 403, 200, 200, 200)),
    ("release transcript", "DELETE", "/api/v1/transcripts/{id}/claim", None, review_setup(),
     (401, 403, 403, 204, 204, 204)),
    ("edit segment", "PATCH", "/api/v1/transcripts/{id}/segments/{index}", with_if_match({"text": "我叫王秀英。"}),
     review_setup(), (401, 403, 403, 200, 200, 200)),
    ("edit segment without If-Match", "PATCH", "/api/v1/transcripts/{id}/segments/{index}", {"text": "我叫王秀英。"},
     review_setup(), (401, 403, 403, 428, 428, 428)),
    ("split segment", "POST", "/api/v1/transcripts/{id}/segments/{index}/split",
     with_if_match({"at": 1.0, "text_before": "我叫王秀英，", "text_after": "今年八十三岁。"}), review_setup(),
     (401, 403, 403, 200, 200, 200)),
    ("merge segments", "POST", "/api/v1/transcripts/{id}/segments/merge", with_if_match({"indexes": [0, 1]}),
     review_setup(), (401, 403, 403, 200, 200, 200)),
    ("bulk save segments", "PUT", "/api/v1/transcripts/{id}/segments",
     with_if_match({"segments": [{"index": 0, "text": "改"}]}), review_setup(), (401, 403, 403, 200, 200, 200)),
    ("set speakers", "PUT", "/api/v1/transcripts/{id}/speakers", with_if_match({"SPEAKER_2": {"name": "采访人 王芳"}}),
     review_setup(), (401, 403, 403, 200, 200, 200)),
    ("revert transcript", "POST", "/api/v1/transcripts/{id}/revert", with_if_match({"revision": 1}, 2),
     review_setup(revisions=2), (401, 403, 403, 200, 200, 200)),
    ("list revisions", "GET", "/api/v1/transcripts/{id}/revisions", None, review_setup(),
     (401, 200, 404, 200, 200, 200)),
    ("get revision", "GET", "/api/v1/transcripts/{id}/revisions/{number}", None, review_setup(),
     (401, 200, 404, 200, 200, 200)),
    ("diff revisions", "GET", "/api/v1/transcripts/{id}/diff?from=1&to=2", None, review_setup(revisions=2),
     (401, 200, 404, 200, 200, 200)),
    ("review transcript", "POST", "/api/v1/transcripts/{id}/review", with_if_match(None), review_setup("in_review"),
     (401, 403, 403, 200, 200, 200)),
    ("approve transcript", "POST", "/api/v1/transcripts/{id}/approve", with_if_match(None), review_setup("reviewed"),
     (401, 403, 403, 403, 200, 200)),
    ("return transcript", "POST", "/api/v1/transcripts/{id}/return", with_if_match({"comment": "第2段人名有误，请核对"}),
     review_setup("reviewed"), (401, 403, 403, 403, 200, 200)),
    ("checklist", "GET", "/api/v1/persons/{id}/checklist", None, person_in("submit"), (401, 200, 404, 200, 200, 200)),
    ("audit", "GET", "/api/v1/audit?entity_type=person", None, None, (401, 403, 403, 403, 200, 200)),
    # bulk imports (tests/imports)
    ("list imports", "GET", "/api/v1/imports", None, None, (401, 403, 403, 403, 200, 200)),
    ("create import", "POST", "/api/v1/imports", import_form, None, (401, 403, 403, 403, 202, 202)),
    ("get import", "GET", "/api/v1/imports/{id}", None, an_import(), (401, 403, 403, 403, 200, 200)),
    ("run import", "POST", "/api/v1/imports/{id}/run", None, an_import(), (401, 403, 403, 403, 202, 202)),
    ("cancel import", "POST", "/api/v1/imports/{id}/cancel", None, an_import("queued"),
     (401, 403, 403, 403, 200, 200)),
    # uploads
    ("create upload", "POST", "/api/v1/uploads", tus_request(Upload_Length="100"), None,
     (401, 201, 201, 201, 201, 201)),
    ("create upload without tus", "POST", "/api/v1/uploads", None, None, (401, 412, 412, 412, 412, 412)),
    ("upload status", "GET", "/api/v1/uploads/{id}", None, an_upload, (401, 200, 404, 404, 404, 404)),
    ("upload chunk", "PATCH", "/api/v1/uploads/{id}", tus_request(chunk=True, Upload_Offset="0"), an_upload,
     (401, 204, 404, 404, 404, 404)),
    ("terminate upload", "DELETE", "/api/v1/uploads/{id}", tus_request(), an_upload, (401, 204, 404, 404, 404, 404)),
    # preservation packages and four-property reports (tests/packages): archivists and admins only
    ("create export", "POST", "/api/v1/exports", lambda ids: {"json": {"scope": "person", "ids": [ids["person_id"]]}},
     an_export, (401, 403, 403, 403, 202, 202)),
    ("list exports", "GET", "/api/v1/exports", None, None, (401, 403, 403, 403, 200, 200)),
    ("get export", "GET", "/api/v1/exports/{export_id}", None, an_export, (401, 403, 403, 403, 200, 200)),
    ("download export", "GET", "/api/v1/exports/{export_id}/download", None, an_export,
     (401, 403, 403, 403, 200, 200)),
    ("export report", "GET", "/api/v1/exports/{export_id}/report", None, an_export, (401, 403, 403, 403, 200, 200)),
    ("scope report", "GET", "/api/v1/reports?scope=person&ids={person_id}", None, an_export,
     (401, 403, 403, 403, 200, 200)),
]

CASES = [pytest.param(name, method, path, body, setup, role, expected[i], id=f"{name}-{role}")
         for name, method, path, body, setup, expected in MATRIX for i, role in enumerate(ROLES)]


@pytest.mark.parametrize("name, method, path, body, setup, role, expected", CASES)
def test_endpoint_role_status(client, auth, app, name, method, path, body, setup, role, expected):
    ids = setup(client, auth, app) if setup is not None else {}
    path = path.format(**ids)
    if callable(body):
        request_args = body(ids) if ids else body()
    else:
        request_args = {"json": body}
    response = client.open(path, method=method, headers=auth(role), **request_args)
    assert response.status_code == expected, (name, role, response.get_json())
    if expected >= 400:
        assert set(response.get_json()["error"]) >= {"code", "message", "details"}


def test_every_api_route_is_in_the_matrix(app):
    """A new endpoint must be added to the matrix above (or to the public list) before it ships."""
    covered = {(method, re.sub(r"\{\w+\}", "<x>", path.split("?")[0])) for _, method, path, *_ in MATRIX}
    covered |= {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/refresh")}  # tested in test_auth
    # the console's cookie session: tested in test_sessions (and in the browser, tests/console/test_login.py)
    covered |= {("POST", "/api/v1/auth/session"), ("POST", "/api/v1/auth/session/refresh"),
                ("DELETE", "/api/v1/auth/session")}
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<[^>]+>", "<x>", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (method, path) not in covered:
                missing.append(f"{method} {rule.rule}")
    assert not missing, missing
