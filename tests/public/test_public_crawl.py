"""The public archive as an outsider meets it: a crawler walks every public endpoint and every link they return over
an archive seeded with profiles in every state, materials at every access level, embargoes, withdrawn consents,
unapproved transcripts and a redaction, and finds nothing it must not (on SQLite and PostgreSQL)."""

from __future__ import annotations

import array
import hashlib
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from backend.extensions import db
from backend.models import Consent, Material, Person, Transcript, TranscriptSegment
from backend.models.types import utcnow
from tests.api.helpers import VALID_ID, VALID_ID_2, assert_error, if_match, make_person
from tests.media.conftest import ffmpeg

pytestmark = pytest.mark.both_databases  # the public queries, crawled on both engines

TONE_SECONDS = 4.0
REDACTED = (1.0, 2.0)
SECRET_FILENAME = "机密文件名-王家私事.wav"
# Words that may only ever be read inside the archive.
REDACTED_WORDS = ("王某某欠债三万", "邻居李四的病情")
UNAPPROVED_WORDS = "尚未审核的机器文字"
HIDDEN_TRANSCRIPT_WORDS = "限制资料里的谈话"


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small real files, each with different bytes (one material per file)."""
    root = tmp_path_factory.mktemp("public-media")
    files: dict[str, Path] = {}

    def tone(name: str, freq: int, *extra: str) -> None:
        files[name] = root / name
        ffmpeg("-f", "lavfi", "-i", f"aevalsrc=0.5*sin(2*PI*{freq}*t):s=44100", "-t", str(TONE_SECONDS), *extra,
               str(files[name]))

    tone("interview.wav", 440)
    for index, name in enumerate(("restricted.wav", "draft_person.wav", "withdrawn_consent.wav",
                                  "not_ready.wav")):
        tone(name, 500 + 40 * index)
    files["video.mp4"] = root / "video.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "lavfi",
           "-i", "aevalsrc=0.5*sin(2*PI*660*t):s=44100", "-t", str(TONE_SECONDS), "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(files["video.mp4"]))
    from PIL import Image

    for index, name in enumerate(("closed.png", "embargoed.png", "open_photo.png", "past_embargo.png")):
        files[name] = root / name
        Image.new("RGB", (64, 48), (40 * index, 90, 200)).save(files[name], "PNG")
    files["certificate.pdf"] = root / "certificate.pdf"
    Image.new("RGB", (200, 280), (250, 250, 240)).save(files["certificate.pdf"], "PDF")
    return files


def _upload(client: Any, auth: Any, path: Path, person_id: int, role: str = "interviewee",
            filename: str | None = None) -> int:
    with open(path, "rb") as fh:
        response = client.post("/api/v1/materials", headers=auth("archivist"), content_type="multipart/form-data",
                               data={"file": (fh, filename or path.name), "person_id": str(person_id),
                                     "role": role})
    assert response.status_code == 201, response.get_json()
    material = client.get(f"/api/v1/materials/{response.get_json()['id']}", headers=auth("archivist")).get_json()
    assert material["status"] == "ready", material
    return material["id"]


def _patch(client: Any, auth: Any, material_id: int, **fields: Any) -> None:
    url = f"/api/v1/materials/{material_id}"
    response = client.patch(url, json=fields, headers=if_match(client, url, auth("archivist")))
    assert response.status_code == 200, response.get_json()


def _person(client: Any, auth: Any, name: str, status: str, consent: str | None, *, withdrawn: bool = False,
            interview_only: bool = False, **fields: Any) -> int:
    person = make_person(client, auth("collector"), name=name, **fields)
    row = db.session.get(Person, person["id"])
    row.status = status
    if status == "published":
        row.published_at = utcnow()
    if consent is not None:
        db.session.add(Consent(person_id=row.id, scope=consent, signed_at=date(2025, 5, 1),
                               created_by_id=row.created_by_id, withdrawn_at=utcnow() if withdrawn else None,
                               interview_id=None))
    db.session.commit()
    if interview_only:
        interview = client.post("/api/v1/interviews", json={"title": "专访"}, headers=auth("archivist")).get_json()
        consent_row = db.session.scalars(db.select(Consent).where(Consent.person_id == row.id)).one()
        consent_row.interview_id, consent_row.interview_scoped = interview["id"], True
        db.session.commit()
    return row.id


def _transcript(material_id: int, status: str, texts: list[tuple[float, float, str]]) -> int:
    transcript = Transcript(
        material_id=material_id, engine="faster-whisper", model="base", language="zh", duration=TONE_SECONDS,
        status=status, approved_at=utcnow() if status == "approved" else None,
        segments=[TranscriptSegment(index=i, start=start, end=end, text=text, speaker="SPEAKER_1",
                                    words=[{"start": start, "end": end, "text": text, "probability": 0.9}])
                  for i, (start, end, text) in enumerate(texts)])
    db.session.add(transcript)
    db.session.commit()
    return transcript.id


@pytest.fixture
def archive(app, client, auth, media) -> dict[str, Any]:
    """Seed the archive; returns the ids that must and must not be public, and the secrets."""
    app.config.update(AUTO_TRANSCRIBE=False, PUBLIC_RATE_LIMIT="off")  # no Whisper run; the crawler is not limited
    with app.app_context():
        public = _person(client, auth, "林海生", "published", "public", id_number=VALID_ID, phone="13912345678",
                         address="连云港市连云区海棠路88号3单元502室", area={"district": "连云区", "town": "连岛街道"},
                         honours=[{"title": "中国好人", "year": 2019}], biography="五十年守护海岛灯塔。")
        second_public = _person(client, auth, "赵文华", "published", "public", category="notable",
                                area={"district": "海州区"})
        hidden = {
            "draft": _person(client, auth, "草稿人", "draft", "public"),
            "submitted": _person(client, auth, "已提交", "submitted", "public"),
            "returned": _person(client, auth, "被退回", "returned", "public"),
            "approved": _person(client, auth, "已审核", "approved", "public"),
            "withdrawn": _person(client, auth, "已撤回", "withdrawn", "public"),
            "no_consent": _person(client, auth, "无授权", "published", None),
            "research_only": _person(client, auth, "仅研究", "published", "research"),
            "consent_withdrawn": _person(client, auth, "撤回授权", "published", "public", withdrawn=True,
                                         id_number=VALID_ID_2, phone="13700001111", address="海州区秘密巷7号"),
            "interview_only": _person(client, auth, "单次授权", "published", "public", interview_only=True),
        }
        secrets = []
        for person_id in (public, *hidden.values()):
            row = db.session.get(Person, person_id)
            secrets += [value for value in (row.id_number, row.phone, row.address) if value]

        interview = _upload(client, auth, media["interview.wav"], public, filename=SECRET_FILENAME)
        video = _upload(client, auth, media["video.mp4"], public)
        open_photo = _upload(client, auth, media["open_photo.png"], public, role="subject")
        past_embargo = _upload(client, auth, media["past_embargo.png"], public, role="subject")
        certificate = _upload(client, auth, media["certificate.pdf"], public, role="certificate")
        restricted = _upload(client, auth, media["restricted.wav"], public)
        closed = _upload(client, auth, media["closed.png"], public, role="subject")
        embargoed = _upload(client, auth, media["embargoed.png"], public, role="subject")
        draft_person = _upload(client, auth, media["draft_person.wav"], hidden["draft"])
        withdrawn_consent = _upload(client, auth, media["withdrawn_consent.wav"], public, role="mentioned")
        not_ready = _upload(client, auth, media["not_ready.wav"], public)
        link = client.post(f"/api/v1/materials/{withdrawn_consent}/persons", headers=auth("archivist"),
                           json={"person_id": hidden["consent_withdrawn"], "role": "interviewee"})
        assert link.status_code == 200, link.get_json()
        for material_id in (interview, video, open_photo, certificate, restricted, draft_person, withdrawn_consent,
                            not_ready):
            _patch(client, auth, material_id, access_level="open")
        _patch(client, auth, restricted, access_level="restricted")
        _patch(client, auth, closed, access_level="closed")
        _patch(client, auth, embargoed, access_level="open",
               embargo_until=(date.today() + timedelta(days=365)).isoformat())
        _patch(client, auth, past_embargo, access_level="open", embargo_until=date.today().isoformat())
        db.session.get(Material, not_ready).status = "processing"
        db.session.commit()

        approved = _transcript(interview, "approved", [
            (0.0, 0.9, "我从小在连岛长大。"), (0.8, 1.5, REDACTED_WORDS[0]), (1.9, 2.6, REDACTED_WORDS[1]),
            (2.0, 3.0, "后来我守了五十年灯塔。"), (3.0, 3.9, "")])
        reviewed = _transcript(interview, "reviewed", [(0.0, 2.0, UNAPPROVED_WORDS)])
        video_transcript = _transcript(video, "approved", [(0.0, 3.5, "这是灯塔的录像。")])
        restricted_transcript = _transcript(restricted, "approved", [(0.0, 3.0, HIDDEN_TRANSCRIPT_WORDS)])
        withdrawn_transcript = _transcript(withdrawn_consent, "approved", [(0.0, 3.0, HIDDEN_TRANSCRIPT_WORDS)])
        originals = {row.id: (row.sha256, row.storage_key) for row in db.session.scalars(db.select(Material))}
        # a public themed collection holding everything, and an internal project the public never sees
        every_person = [public, second_public, *hidden.values()]
        collection = client.post("/api/v1/projects", headers=auth("archivist"), json={
            "title": "海岛记忆", "person_ids": every_person, "budget": "项目经费保密", "is_public": True}).get_json()
        internal = client.post("/api/v1/projects", headers=auth("archivist"), json={
            "title": "内部项目勿公开", "person_ids": every_person}).get_json()
        for material_id in originals:
            _patch(client, auth, material_id, project_id=collection["id"])
        internal_proxy = db.session.get(Material, interview).derivative("proxy").sha256

    redaction = client.post(f"/api/v1/transcripts/{approved}/redactions", headers=auth("editor"),
                            json={"start": REDACTED[0], "end": REDACTED[1], "reason": "third_party",
                                  "note": "涉及邻居隐私"})
    assert redaction.status_code == 201, redaction.get_json()
    return {
        "public_persons": {public, second_public}, "hidden_persons": set(hidden.values()),
        "public_materials": {interview, video, open_photo, past_embargo, certificate},
        "hidden_materials": {restricted, closed, embargoed, draft_person, withdrawn_consent, not_ready},
        "public_transcripts": {approved, video_transcript},
        "hidden_transcripts": {reviewed, restricted_transcript, withdrawn_transcript},
        "interview": interview, "video": video, "approved": approved, "secrets": secrets,
        "originals": originals, "internal_proxy": internal_proxy,
        "project": collection["id"], "internal_project": internal["id"],
    }


def _walk_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in _walk_keys(item)}
    if isinstance(value, list):
        return {key for item in value for key in _walk_keys(item)}
    return set()


def _links(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [link for key, item in value.items() for link in
                ([item] if isinstance(item, str) and item.startswith("/api/public/") else _links(item))]
    if isinstance(value, list):
        return [link for item in value for link in _links(item)]
    return []


# Public searches the crawler starts from (and follows every link of): what is public, and what must find nothing.
SEARCHES = ("灯塔", "连岛", "林海生", "lhs", "海", "赵文华 海州", "录像", *REDACTED_WORDS, "王某某", "病情",
            UNAPPROVED_WORDS, HIDDEN_TRANSCRIPT_WORDS, "谈话", "机密文件名", "草稿人", "撤回授权", "无授权", "仅研究",
            "13912345678", "海棠路", "秘密巷", "涉及邻居隐私")
NOTHING_PUBLIC = (*REDACTED_WORDS, "王某某", "病情", UNAPPROVED_WORDS, HIDDEN_TRANSCRIPT_WORDS, "谈话", "机密文件名",
                  "草稿人", "撤回授权", "无授权", "仅研究", "13912345678", "海棠路", "秘密巷", "涉及邻居隐私")


def crawl(client: Any) -> dict[str, Any]:
    """Breadth-first over every public list page, filter and returned link; returns {url: response}."""
    seeds = ["/api/public/persons?per_page=1", "/api/public/persons?per_page=100",
             "/api/public/persons?category=good_person", "/api/public/persons?category=notable",
             "/api/public/persons?area=连岛街道", "/api/public/persons?q=lhs", "/api/public/persons?q=林",
             "/api/public/projects",
             *(f"/api/public/search?{urlencode({'q': q})}" for q in SEARCHES)]
    seen: dict[str, Any] = {}
    queue = list(seeds)
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        response = client.get(url)
        seen[url] = response
        assert response.status_code in (200, 206), (url, response.status_code, response.get_data()[:300])
        if response.mimetype == "application/json":
            body = response.get_json()
            queue += _links(body)
            parts = urlsplit(url)
            if ({"items", "total", "page", "per_page"} <= set(body) and body["page"] is not None
                    and body["page"] * body["per_page"] < body["total"]):
                query = {**dict(parse_qsl(parts.query)), "page": str(body["page"] + 1)}
                queue.append(f"{parts.path}?{urlencode(query)}")
            if body.get("next_cursor"):  # the keyset walk too, from the cursor each page hands out
                query = {key: value for key, value in parse_qsl(parts.query) if key != "page"}
                queue.append(f"{parts.path}?{urlencode({**query, 'cursor': body['next_cursor']})}")
    return seen


def _decode(data: bytes, tmp_path: Path) -> array.array:
    source = tmp_path / "fetched.bin"
    source.write_bytes(data)
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(source), "-f", "s16le", "-ac", "1",
                          "-ar", "8000", "-"], capture_output=True, check=True).stdout
    samples = array.array("h")
    samples.frombytes(raw)
    return samples


def _peak(samples: array.array, start: float, end: float) -> int:
    return max(abs(value) for value in samples[int(start * 8000):int(end * 8000)])


def test_crawler_finds_only_what_may_be_published_on_both_databases(client, auth, archive, app, tmp_path):
    seen = crawl(client)
    bodies = {url: response.get_data() for url, response in seen.items()}
    json_bodies = {url: seen[url].get_json() for url in seen if seen[url].mimetype == "application/json"}

    persons = {body["id"] for url, body in json_bodies.items() if url.startswith("/api/public/persons/")}
    listed = {item["id"] for url, body in json_bodies.items() if "items" in body and url.startswith("/api/public/persons?")
              for item in body["items"]}
    assert persons == listed == archive["public_persons"]
    first, second = sorted(archive["public_persons"])
    for url, expected in (("/api/public/persons?category=notable", {second}), ("/api/public/persons?q=lhs", {first}),
                          ("/api/public/persons?q=林", {first}), ("/api/public/persons?area=连岛街道", {first})):
        assert set(json_bodies[url]) == {"items", "total", "page", "per_page", "next_cursor"}
        assert {item["id"] for item in json_bodies[url]["items"]} == expected, url
        assert json_bodies[url]["total"] == len(expected)
    materials = {int(url.split("/")[4]) for url in seen if url.startswith("/api/public/materials/")}
    assert materials == archive["public_materials"]
    transcripts = {body["id"] for url, body in json_bodies.items() if url.startswith("/api/public/transcripts/")}
    assert transcripts == archive["public_transcripts"]
    # every public material is offered, with its playback proxy or picture
    offered = {m["id"]: m for body in json_bodies.values() for m in body.get("materials", [])}
    assert set(offered) == archive["public_materials"]
    # the public project shows its public profiles and materials only; the internal one is not there
    projects = {body["id"]: body for url, body in json_bodies.items() if url.startswith("/api/public/projects/")}
    assert set(projects) == {archive["project"]}
    assert {p["id"] for p in projects[archive["project"]]["persons"]} == archive["public_persons"]
    assert {m["id"] for m in projects[archive["project"]]["materials"]} == archive["public_materials"]
    assert set(offered[archive["video"]]["content"]) == {"proxy", "poster"}
    assert set(offered[archive["interview"]]["content"]) == {"proxy"}
    assert offered[archive["interview"]]["title"] == ""  # the title was only the secret file name

    everything = b"".join(bodies.values())
    for secret in archive["secrets"] + [SECRET_FILENAME, "机密文件名", *REDACTED_WORDS, UNAPPROVED_WORDS,
                                        HIDDEN_TRANSCRIPT_WORDS, "涉及邻居隐私", "草稿人", "撤回授权", "无授权",
                                        "项目经费保密", "内部项目勿公开"]:
        assert secret.encode() not in everything, secret
    with app.app_context():
        for sha256, key in archive["originals"].values():
            assert sha256.encode() not in everything and key.encode() not in everything
    keys = set().union(*(_walk_keys(body) for body in json_bodies.values()))
    assert not keys & {"id_number", "phone", "address", "created_by", "collector", "collector_id", "sha256",
                       "storage_key", "original_filename", "status", "latitude", "longitude", "note", "words"}

    # no fetched file is an original, nor the unredacted proxy of the redacted interview
    originals = {sha for sha, _key in archive["originals"].values()}
    for url, response in seen.items():
        if "/content" in url:
            digest = hashlib.sha256(response.get_data()).hexdigest()
            assert digest not in originals, url
            assert digest != archive["internal_proxy"], url

    # the redacted range is silent in the public audio; the tone is there around it
    audio = _decode(bodies[f"/api/public/materials/{archive['interview']}/content?variant=proxy"], tmp_path)
    start, end = REDACTED
    assert _peak(audio, start + 0.05, end - 0.05) < 200
    assert _peak(audio, 0.1, start - 0.1) > 8000 and _peak(audio, end + 0.1, TONE_SECONDS - 0.2) > 8000

    transcript = json_bodies[f"/api/public/transcripts/{archive['approved']}"]
    assert [s["text"] for s in transcript["segments"]] == ["我从小在连岛长大。", "后来我守了五十年灯塔。"]
    assert transcript["redacted"] == [{"start": 1.0, "end": 2.0}]

    check_public_search(json_bodies, archive)

    # (one seeded archive per database serves every check: seeding processes real media and takes a while)
    check_hidden_answers_like_a_missing_id(client, archive)
    check_content_streams_ranges_and_revalidates(client, archive)
    check_restricting_or_withdrawing_consent_hides_at_once(client, auth, archive, app)


def _search_page(json_bodies: dict[str, Any], q: str) -> dict[str, Any]:
    return json_bodies[f"/api/public/search?{urlencode({'q': q})}"]


def check_public_search(json_bodies: dict[str, Any], archive: dict[str, Any]) -> None:
    """The public search finds what the public API shows, and nothing else: no redacted segment, no unapproved or
    hidden transcript, no unpublished profile, no personal data, no file name."""
    for q in NOTHING_PUBLIC:
        body = _search_page(json_bodies, q)
        assert body["items"] == [] and body["total"] == 0, q
        assert body["facets"] == {"type": {}, "category": {}, "area": {}}, q
    lighthouse = _search_page(json_bodies, "灯塔")
    found = {(item["type"], item.get("transcript_id"), item.get("segment_index")) for item in lighthouse["items"]}
    first = min(archive["public_persons"])
    assert found == {("segment", archive["approved"], 3), ("segment", min(archive["public_transcripts"] -
                                                                          {archive["approved"]}), 0),
                     ("person", None, None)}
    assert {item["id"] for item in lighthouse["items"] if item["type"] == "person"} == {first}
    assert lighthouse["total"] == 3 and lighthouse["facets"]["type"] == {"person": 1, "segment": 2}
    # the segments count with the public profile of their recordings (the profile linked only to a recording
    # whose consent was withdrawn is not counted)
    assert lighthouse["facets"]["category"] == {"good_person": 3}
    assert lighthouse["facets"]["area"] == {"连云区": 3}
    segment = next(item for item in lighthouse["items"] if item.get("transcript_id") == archive["approved"])
    assert segment["highlight"] == "后来我守了五十年<mark>灯塔</mark>。"
    assert segment["url"] == f"/api/public/transcripts/{archive['approved']}"
    assert segment["play_url"] == f"/api/public/materials/{archive['interview']}/content?variant=proxy#t=2.00,3.00"
    assert segment["title"] == f"转写稿 {archive['approved']}"  # the recording's title was only its secret file name
    assert {item["id"] for item in _search_page(json_bodies, "lhs")["items"]} == {first}
    # the public search of a word in a redacted segment finds the other, public segments only
    assert {item.get("segment_index") for item in _search_page(json_bodies, "连岛")["items"]
            if item["type"] == "segment"} == {0}


def check_hidden_answers_like_a_missing_id(client: Any, archive: dict[str, Any]) -> None:
    missing = {kind: assert_error(client.get(url), 404) for kind, url in (
        ("persons", "/api/public/persons/999999"), ("transcripts", "/api/public/transcripts/999999"),
        ("materials", "/api/public/materials/999999/content?variant=proxy"))}
    assert assert_error(client.get(f"/api/public/projects/{archive['internal_project']}"), 404) == \
        assert_error(client.get("/api/public/projects/999999"), 404)
    for kind, ids in (("persons", archive["hidden_persons"]), ("transcripts", archive["hidden_transcripts"])):
        for hidden_id in ids:
            assert assert_error(client.get(f"/api/public/{kind}/{hidden_id}"), 404) == missing[kind], (kind, hidden_id)
    for material_id in archive["hidden_materials"]:
        for variant in ("proxy", "thumbnail", "poster"):
            error = assert_error(client.get(f"/api/public/materials/{material_id}/content?variant={variant}"), 404)
            assert error == missing["materials"], material_id
    # originals and internal-only variants are not even requestable
    for variant in ("original", "asr", "waveform", "public_proxy"):
        assert_error(client.get(f"/api/public/materials/{archive['interview']}/content?variant={variant}"), 422)
    assert_error(client.get(f"/api/public/materials/{archive['interview']}/content"), 422)


def check_content_streams_ranges_and_revalidates(client: Any, archive: dict[str, Any]) -> None:
    url = f"/api/public/materials/{archive['video']}/content?variant=proxy"
    full = client.get(url)
    assert full.status_code == 200 and full.mimetype == "video/mp4"
    assert full.headers["Cache-Control"] == "public, no-cache"
    part = client.get(url, headers={"Range": "bytes=10-109"})
    assert part.status_code == 206 and part.get_data() == full.get_data()[10:110]
    assert client.get(url, headers={"If-None-Match": full.headers["ETag"]}).status_code == 304
    assert client.get(url, headers={"Range": "bytes=999999999-"}).status_code == 416


def check_restricting_or_withdrawing_consent_hides_at_once(client: Any, auth: Any, archive: dict[str, Any],
                                                           app: Any) -> None:
    person_id = min(archive["public_persons"])
    interview = archive["interview"]
    assert client.get(f"/api/public/materials/{interview}/content?variant=proxy").status_code == 200
    _patch(client, auth, interview, access_level="restricted")
    assert_error(client.get(f"/api/public/materials/{interview}/content?variant=proxy"), 404, "material_not_found")
    assert_error(client.get(f"/api/public/transcripts/{archive['approved']}"), 404, "transcript_not_found")
    found = client.get("/api/public/search", query_string={"q": "灯塔"}).get_json()
    assert archive["approved"] not in {item.get("transcript_id") for item in found["items"]}
    with app.app_context():
        consent = db.session.scalars(db.select(Consent).where(Consent.person_id == person_id)).first()
        consent.withdrawn_at = utcnow()
        db.session.commit()
    assert_error(client.get(f"/api/public/persons/{person_id}"), 404, "person_not_found")
    assert person_id not in {p["id"] for p in client.get("/api/public/persons").get_json()["items"]}
    found = client.get("/api/public/search", query_string={"q": "林海生"}).get_json()
    assert found["total"] == 0 and found["items"] == []
