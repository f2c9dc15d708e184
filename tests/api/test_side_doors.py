"""No side doors around visibility and consent (issue 10): a duplicate upload tells nothing and links nothing the
uploader may not see or edit; nested lists and exports show what the top-level GET shows; and whatever would make
something newly public — an unlink, a cleared interview, a deleted draft, a deleted redaction, an edit of a
published profile — is an archivist's act, checked against the public API afterwards."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from backend.extensions import db
from backend.models import Person, Transcript, TranscriptSegment
from tests.api.helpers import advance, assert_error, if_match, make_person, tiny_png


@pytest.fixture(autouse=True)
def _public_unlimited(app):  # type: ignore[no-untyped-def]
    app.config.update(PUBLIC_RATE_LIMIT="off")


def post_file(client: Any, headers: dict[str, str], data: bytes, **form: Any) -> Any:
    payload = {"file": (io.BytesIO(data), "photo.png"), **{key: str(value) for key, value in form.items()}}
    return client.post("/api/v1/materials", data=payload, content_type="multipart/form-data", headers=headers)


def uploaded(client: Any, headers: dict[str, str], data: bytes, **form: Any) -> dict[str, Any]:
    response = post_file(client, headers, data, **form)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def as_admin(client: Any, auth: Any, material_id: int) -> dict[str, Any]:
    return client.get(f"/api/v1/materials/{material_id}", headers=auth("admin")).get_json()


def patch(client: Any, url: str, headers: dict[str, str], **fields: Any) -> Any:
    return client.patch(url, json=fields, headers=if_match(client, url, headers))


def open_material(client: Any, auth: Any, material_id: int) -> None:
    response = patch(client, f"/api/v1/materials/{material_id}", auth("archivist"), access_level="open")
    assert response.status_code == 200, response.get_json()


def published_person(client: Any, auth: Any, name: str) -> int:
    person = make_person(client, auth("collector"), name=name)
    advance(client, person["id"], auth("collector"), "submit")
    advance(client, person["id"], auth("archivist"), "approve", "publish")
    return person["id"]


def public_material_ids(client: Any, person_id: int) -> list[int]:
    response = client.get(f"/api/public/persons/{person_id}")
    assert response.status_code == 200, response.get_json()
    return [material["id"] for material in response.get_json()["materials"]]


def is_public(client: Any, person_id: int, material_id: int) -> bool:
    """Whether the public archive shows the material, on the person's page and by its own URL alike."""
    listed = material_id in public_material_ids(client, person_id)
    served = client.get(f"/api/public/materials/{material_id}/content?variant=thumbnail").status_code == 200
    assert listed == served
    return listed


def add_transcript(app: Any, material_id: int, status: str = "machine", texts: tuple[str, ...] = ("你好",),
                   **fields: Any) -> int:
    with app.app_context():
        transcript = Transcript(material_id=material_id, engine="faster-whisper", model="base", language="zh",
                                duration=float(len(texts)), status=status, segments=[
                                    TranscriptSegment(index=i, start=float(i), end=i + 1.0, text=text)
                                    for i, text in enumerate(texts)], **fields)
        db.session.add(transcript)
        db.session.commit()
        return transcript.id


# --- duplicate uploads --------------------------------------------------------------------------------------------

@pytest.mark.both_databases  # the insert-unless-known statement per dialect, on the (uploader, sha256) constraint
def test_bytes_of_a_material_the_uploader_cannot_see_become_a_material_of_their_own(client, auth, app, users,
                                                                                   runner):
    data = tiny_png(4242, 7)
    sha256 = hashlib.sha256(data).hexdigest()
    theirs_person = make_person(client, auth("collector"), name="张家老人")
    theirs = uploaded(client, auth("collector"), data, person_id=theirs_person["id"], title="张家私事")
    mine_person = make_person(client, auth("other_collector"), name="李家老人")
    assert client.get(f"/api/v1/materials?sha256={sha256}", headers=auth("other_collector")).get_json()["total"] == 0

    response = post_file(client, auth("other_collector"), data, person_id=mine_person["id"], title="我的照片")
    assert response.status_code == 201, response.get_json()
    mine = response.get_json()
    assert mine["duplicate"] is False and mine["id"] != theirs["id"]
    assert mine["title"] == "我的照片" and mine["person_ids"] == [mine_person["id"]]
    assert mine["collector_id"] == users["other_collector"] and mine["access_level"] == "restricted"
    current = client.get(f"/api/v1/materials/{mine['id']}", headers=auth("other_collector")).get_json()
    assert current["status"] == "ready" and "thumbnail" in current["variants"]  # processed like any new upload
    original = client.get(f"/api/v1/materials/{mine['id']}/content", headers=auth("other_collector"))
    assert original.status_code == 200 and original.data == data

    # the other material is untouched: no link to the uploader's person, no audit entry by them
    untouched = as_admin(client, auth, theirs["id"])
    assert untouched["person_ids"] == [theirs_person["id"]] and untouched["title"] == "张家私事"
    trail = client.get(f"/api/v1/audit?entity_type=material&entity_id={theirs['id']}", headers=auth("admin"))
    assert [event["action"] for event in trail.get_json()["items"]] == ["create"]

    # finding by hash shows only what each may see
    found = {role: [item["id"] for item in client.get(f"/api/v1/materials?sha256={sha256}",
                                                      headers=auth(role)).get_json()["items"]]
             for role in ("collector", "other_collector", "admin")}
    assert found == {"collector": [theirs["id"]], "other_collector": [mine["id"]],
                     "admin": [mine["id"], theirs["id"]]}
    again = post_file(client, auth("other_collector"), data)
    assert again.status_code == 200 and again.get_json()["duplicate"] is True and again.get_json()["id"] == mine["id"]

    # one stored original backs both; fixity is checked for each
    media_root = Path(app.config["STORAGE_URL"])
    assert [path.name for path in media_root.rglob(sha256)] == [sha256]
    result = runner.invoke(args=["fixity", "check"])
    assert result.exit_code == 0, result.output
    for material_id in (theirs["id"], mine["id"]):
        events = client.get(f"/api/v1/materials/{material_id}/fixity", headers=auth("archivist")).get_json()
        assert [event["outcome"] for event in events] == ["ok"]


def test_a_duplicate_of_a_visible_material_links_the_person_only_with_edit_rights(client, auth):
    data = tiny_png(4343, 7)
    owner_person = make_person(client, auth("collector"), name="渔民老王")
    material = uploaded(client, auth("collector"), data, person_id=owner_person["id"])
    open_material(client, auth, material["id"])

    other_person = make_person(client, auth("other_collector"), name="别人的档案")
    response = post_file(client, auth("other_collector"), data, person_id=other_person["id"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["duplicate"] is True and body["id"] == material["id"]
    assert body["person_ids"] == [], "the owner's draft is not the uploader's to see"
    assert as_admin(client, auth, material["id"])["person_ids"] == [owner_person["id"]], "nothing linked"

    editor_person = make_person(client, auth("editor"), name="编辑建的档案")
    response = post_file(client, auth("editor"), data, person_id=editor_person["id"])
    assert response.status_code == 200 and response.get_json()["duplicate"] is True
    assert as_admin(client, auth, material["id"])["person_ids"] == sorted([owner_person["id"], editor_person["id"]])


# --- nested serialisers -----------------------------------------------------------------------------------------

SECRETS = ("王家往事", "连岛", "采访人王芳", "王秀英")


@pytest.fixture
def hidden_context(client, auth, app) -> dict[str, Any]:
    """An open material of `collector` in their interview (title, place, interviewer) with their draft interviewee,
    and a transcript whose speaker is mapped to that draft: `other_collector` may see the material, not the rest."""
    person = make_person(client, auth("collector"), name="王秀英")
    interview = client.post("/api/v1/interviews", headers=auth("collector"), json={
        "title": "王家往事", "place": "连岛", "interviewers": ["采访人王芳"], "interviewee_ids": [person["id"]]})
    assert interview.status_code == 201, interview.get_json()
    material = uploaded(client, auth("collector"), tiny_png(4444, 7), person_id=person["id"],
                        interview_id=interview.get_json()["id"], title="码头照片")
    open_material(client, auth, material["id"])
    transcript_id = add_transcript(app, material["id"], speakers={"SPEAKER_1": {"person_id": person["id"]},
                                                                  "SPEAKER_2": {"name": "采访人"}})
    return {"person_id": person["id"], "interview_id": interview.get_json()["id"], "material_id": material["id"],
            "transcript_id": transcript_id}


def export_text(client: Any, headers: dict[str, str], transcript_id: int, fmt: str) -> str:
    response = client.get(f"/api/v1/transcripts/{transcript_id}/export?format={fmt}", headers=headers)
    assert response.status_code == 200, response.get_json()
    if fmt == "docx":
        with zipfile.ZipFile(io.BytesIO(response.data)) as docx:
            return docx.read("word/document.xml").decode()
    return response.get_data(as_text=True)


@pytest.mark.parametrize("fmt", ["json", "txt", "docx"])
def test_an_export_shows_only_the_interview_and_persons_the_caller_may_see(client, auth, hidden_context, fmt):
    tid = hidden_context["transcript_id"]
    staff = export_text(client, auth("editor"), tid, fmt)
    for secret in SECRETS[:1] if fmt == "txt" else SECRETS:  # a text export names only the title
        assert secret in staff, (fmt, secret)  # staff see the interview: the export names it
    outsider = export_text(client, auth("other_collector"), tid, fmt)
    for secret in SECRETS:
        assert secret not in outsider, (fmt, secret)
    if fmt == "json":
        metadata = json.loads(outsider)["metadata"]
        assert metadata["title"] == "码头照片"
        assert metadata["interviewee"] is None and metadata["interviewer"] is None and metadata["place"] is None


def test_nested_ids_and_filters_show_only_visible_profiles_and_interviews(client, auth, hidden_context):
    pid, mid, tid = hidden_context["person_id"], hidden_context["material_id"], hidden_context["transcript_id"]
    outsider, owner = auth("other_collector"), auth("collector")

    seen = client.get(f"/api/v1/materials/{mid}", headers=outsider).get_json()
    assert seen["person_ids"] == [] and seen["interview_id"] is None
    assert client.get(f"/api/v1/materials/{mid}", headers=owner).get_json()["person_ids"] == [pid]
    listed = client.get("/api/v1/materials", headers=outsider).get_json()["items"]
    assert [(item["id"], item["person_ids"], item["interview_id"]) for item in listed] == [(mid, [], None)]
    assert client.get(f"/api/v1/materials/{mid}/persons", headers=outsider).get_json() == []

    # a hidden profile filters like a missing one: no totals about it
    def total(url: str, headers: dict[str, str]) -> int:
        return client.get(url, headers=headers).get_json()["total"]

    assert total(f"/api/v1/materials?person_id={pid}", owner) == 1
    assert total(f"/api/v1/materials?person_id={pid}", outsider) == 0 == total("/api/v1/materials?person_id=999999",
                                                                              outsider)
    assert_error(client.get(f"/api/v1/persons/{pid}/materials", headers=outsider), 404, "person_not_found")

    # a speaker mapped to a hidden profile is left out of the transcript
    speakers = client.get(f"/api/v1/transcripts/{tid}", headers=outsider).get_json()["speakers"]
    assert speakers == {"SPEAKER_2": {"name": "采访人"}}
    assert set(client.get(f"/api/v1/transcripts/{tid}", headers=owner).get_json()["speakers"]) == {
        "SPEAKER_1", "SPEAKER_2"}


def test_an_interviewee_who_stopped_being_visible_is_neither_shown_nor_dropped(client, auth):
    published = published_person(client, auth, "陈阿婆")
    created = client.post("/api/v1/interviews", json={"title": "我的访谈", "interviewee_ids": [published]},
                          headers=auth("other_collector"))
    assert created.status_code == 201 and created.get_json()["interviewee_ids"] == [published]
    interview_id = created.get_json()["id"]
    advance(client, published, auth("archivist"), "withdraw")  # no longer visible to other collectors

    url = f"/api/v1/interviews/{interview_id}"
    assert client.get(url, headers=auth("other_collector")).get_json()["interviewee_ids"] == []
    assert client.get(f"/api/v1/interviews?person_id={published}",
                      headers=auth("other_collector")).get_json()["total"] == 0
    assert client.get(f"/api/v1/interviews?person_id={published}", headers=auth("editor")).get_json()["total"] == 1
    # sending back the list as shown keeps the interviewee the collector cannot see
    response = patch(client, url, auth("other_collector"), interviewee_ids=[], place="连岛")
    assert response.status_code == 200 and response.get_json()["interviewee_ids"] == []
    assert client.get(url, headers=auth("admin")).get_json()["interviewee_ids"] == [published]


def test_consents_of_a_public_profile_show_only_forms_the_caller_may_see(client, auth):
    published = published_person(client, auth, "陈阿公")  # its signed form was uploaded by the archivist
    outsider = client.get(f"/api/v1/persons/{published}/consents", headers=auth("other_collector")).get_json()
    archivist = client.get(f"/api/v1/persons/{published}/consents", headers=auth("archivist")).get_json()
    assert [item["material_id"] for item in outsider["items"]] == [None]
    assert archivist["items"][0]["material_id"] is not None
    assert outsider["items"][0]["interview_scoped"] is False


# --- publication changes only through an archivist -----------------------------------------------------------

@pytest.fixture
def guarded(client, auth) -> dict[str, Any]:
    """A published profile and `collector`'s draft, both on an open material that `collector` uploaded: the draft
    (an interviewee) keeps it from the public."""
    public_id = published_person(client, auth, "刘公开")
    draft = make_person(client, auth("collector"), name="刘草稿")
    material = uploaded(client, auth("collector"), tiny_png(4545, 7), person_id=draft["id"], role="interviewee")
    linked = client.post(f"/api/v1/materials/{material['id']}/persons", headers=auth("collector"),
                         json={"person_id": public_id, "role": "subject"})
    assert linked.status_code == 200, linked.get_json()
    open_material(client, auth, material["id"])
    assert not is_public(client, public_id, material["id"])
    return {"public_id": public_id, "draft_id": draft["id"], "material_id": material["id"]}


def test_unlinking_a_person_an_open_material_needs_is_an_archivists_act(client, auth, guarded):
    mid, draft = guarded["material_id"], guarded["draft_id"]
    for role in ("collector", "editor"):
        error = assert_error(client.delete(f"/api/v1/materials/{mid}/persons/{draft}", headers=auth(role)), 403,
                             "publication_requires_archivist")
        assert error["details"]["reason"] == "consent_link_of_open_material"
    assert not is_public(client, guarded["public_id"], mid)
    assert as_admin(client, auth, mid)["person_ids"] == sorted([guarded["public_id"], draft])

    # a link that needs no consent may go: that can only narrow what is public
    assert client.post(f"/api/v1/materials/{mid}/persons", headers=auth("collector"),
                       json={"person_id": draft, "role": "mentioned"}).status_code == 200
    assert client.delete(f"/api/v1/materials/{mid}/persons/{draft}?role=mentioned",
                         headers=auth("collector")).status_code == 200
    assert not is_public(client, guarded["public_id"], mid)

    assert client.delete(f"/api/v1/materials/{mid}/persons/{draft}", headers=auth("archivist")).status_code == 200
    assert is_public(client, guarded["public_id"], mid), "the archivist's unlink is their decision"


def test_moving_an_open_material_off_its_interview_is_an_archivists_act(client, auth):
    public_id = published_person(client, auth, "赵公开")
    draft = make_person(client, auth("collector"), name="赵草稿")
    interview = client.post("/api/v1/interviews", json={"title": "赵家", "interviewee_ids": [draft["id"]]},
                            headers=auth("collector")).get_json()
    other = client.post("/api/v1/interviews", json={"title": "别的"}, headers=auth("collector")).get_json()
    material = uploaded(client, auth("collector"), tiny_png(4646, 7), person_id=public_id, role="subject",
                        interview_id=interview["id"])
    open_material(client, auth, material["id"])
    url = f"/api/v1/materials/{material['id']}"
    assert not is_public(client, public_id, material["id"])

    for role in ("collector", "editor"):
        for target in (None, other["id"]):
            error = assert_error(patch(client, url, auth(role), interview_id=target), 403,
                                 "publication_requires_archivist")
            assert error["details"]["reason"] == "interview_of_open_material"
        error = assert_error(patch(client, f"/api/v1/interviews/{interview['id']}", auth(role), interviewee_ids=[]),
                             403, "publication_requires_archivist")
        assert error["details"]["reason"] == "interviewee_of_open_material"
    assert as_admin(client, auth, material["id"])["interview_id"] == interview["id"]
    assert client.get(f"/api/v1/interviews/{interview['id']}", headers=auth("admin")).get_json()[
        "interviewee_ids"] == [draft["id"]]
    assert not is_public(client, public_id, material["id"])
    # other edits of the open material and its interview stay everyone's
    assert patch(client, url, auth("collector"), title="新标题").status_code == 200
    assert patch(client, f"/api/v1/interviews/{interview['id']}", auth("collector"), place="连岛").status_code == 200

    assert patch(client, url, auth("archivist"), interview_id=None).status_code == 200
    assert is_public(client, public_id, material["id"])


def test_deleting_a_draft_that_an_open_material_needs_is_an_archivists_act(client, auth, guarded):
    draft = guarded["draft_id"]
    error = assert_error(client.delete(f"/api/v1/persons/{draft}", headers=auth("collector")), 403,
                         "publication_requires_archivist")
    assert error["details"]["reason"] == "person_of_open_material"
    assert client.get(f"/api/v1/persons/{draft}", headers=auth("collector")).status_code == 200
    assert not is_public(client, guarded["public_id"], guarded["material_id"])
    # a draft that no open material needs is still its creator's to delete
    spare = make_person(client, auth("collector"), name="多余草稿")
    assert client.delete(f"/api/v1/persons/{spare['id']}", headers=auth("collector")).status_code == 204

    assert client.delete(f"/api/v1/persons/{draft}", headers=auth("admin")).status_code == 204
    assert is_public(client, guarded["public_id"], guarded["material_id"])


def test_deleting_a_redaction_that_keeps_words_from_the_public_is_an_archivists_act(client, auth, app):
    public_id = published_person(client, auth, "孙公开")
    material = uploaded(client, auth("collector"), tiny_png(4747, 7), person_id=public_id, role="subject")
    open_material(client, auth, material["id"])
    approved = add_transcript(app, material["id"], "approved", ("第一句", "王某某欠债三万", "第三句"))
    machine = add_transcript(app, material["id"], "machine", ("第一句", "邻居的病情", "第三句"))
    redactions = []
    for tid, start in ((approved, 1.0), (machine, 1.2)):
        response = client.post(f"/api/v1/transcripts/{tid}/redactions", headers=auth("editor"),
                               json={"start": start, "end": 2.0, "reason": "privacy"})
        assert response.status_code == 201, response.get_json()
        redactions.append((tid, response.get_json()["id"]))

    def public_words() -> list[str]:
        return [s["text"] for s in client.get(f"/api/public/transcripts/{approved}").get_json()["segments"]]

    assert public_words() == ["第一句", "第三句"]
    # every redaction of the material counts for its public transcript, whichever transcript it was made on
    for tid, rid in redactions:
        error = assert_error(client.delete(f"/api/v1/transcripts/{tid}/redactions/{rid}", headers=auth("editor")),
                             403, "publication_requires_archivist")
        assert error["details"]["reason"] == "redaction_of_public_material"
    assert public_words() == ["第一句", "第三句"]

    for tid, rid in redactions:
        assert client.delete(f"/api/v1/transcripts/{tid}/redactions/{rid}", headers=auth("archivist")).status_code \
            == 204
    assert public_words() == ["第一句", "王某某欠债三万", "第三句"]


def test_an_approved_transcripts_redaction_stays_even_while_its_material_is_restricted(client, auth, app):
    material = uploaded(client, auth("collector"), tiny_png(4848, 7))
    approved = add_transcript(app, material["id"], "approved", ("一", "二"))
    created = client.post(f"/api/v1/transcripts/{approved}/redactions", headers=auth("editor"),
                          json={"start": 0.0, "end": 1.0, "reason": "privacy"}).get_json()
    assert_error(client.delete(f"/api/v1/transcripts/{approved}/redactions/{created['id']}", headers=auth("editor")),
                 403, "publication_requires_archivist")


def test_an_archivists_edit_of_a_published_profile_is_the_approval_and_public_at_once(client, auth, users, app):
    pid = published_person(client, auth, "周公开")
    url = f"/api/v1/persons/{pid}"
    before = client.get(url, headers=auth("archivist")).get_json()
    for role in ("collector", "editor"):
        assert_error(patch(client, url, auth(role), biography="改写的事迹"), 403, "person_not_editable")
    assert client.get(f"/api/public/persons/{pid}").get_json()["biography"] == before["biography"]

    response = patch(client, url, auth("archivist"), biography="档案员核实后的事迹。")
    assert response.status_code == 200, response.get_json()
    edited = response.get_json()
    assert edited["status"] == "published" and edited["approved_at"] > before["approved_at"]
    with app.app_context():
        assert db.session.get(Person, pid).approved_by_id == users["archivist"]
    assert client.get(f"/api/public/persons/{pid}").get_json()["biography"] == "档案员核实后的事迹。"
    latest = client.get(f"/api/v1/audit?entity_type=person&entity_id={pid}", headers=auth("admin")).get_json()[
        "items"][0]
    assert latest["action"] == "update" and latest["actor_id"] == users["archivist"]
    assert "修改即审核通过" in latest["comment"] and latest["changes"]["biography"]["after"] == "档案员核实后的事迹。"

    # the edit is published as saved, so it must pass the publication checklist
    error = assert_error(patch(client, url, auth("archivist"), biography=""), 409, "publication_checklist")
    assert error["details"]["missing"] == ["biography"]
    assert client.get(f"/api/public/persons/{pid}").get_json()["biography"] == "档案员核实后的事迹。"
