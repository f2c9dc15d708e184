"""Offline sync as a field app uses it: a full first sync of what the user may see (equal to the records' own GETs),
two phones editing the same profile offline under the If-Match rules, tombstones when records are deleted, withdrawn
or restricted, notifications, paging without duplicates or gaps, embargoes that end, and bad or stale cursors."""

from __future__ import annotations

import base64
from datetime import date, timedelta
from typing import Any

from flask_jwt_extended import create_access_token

from tests.api.helpers import VALID_ID_2, advance, assert_error, if_match, make_person, upload_png
from tests.sync.phone import Phone

URLS = {"person": "/api/v1/persons/{}", "material": "/api/v1/materials/{}", "interview": "/api/v1/interviews/{}"}


def _patch(client, url: str, body: dict[str, Any], headers: dict[str, str], etag: str | None = None) -> Any:
    return client.patch(url, json=body, headers={**headers, **({"If-Match": etag} if etag else {})})


def _open(client, auth, material_id: int, **fields: Any) -> dict[str, Any]:
    url = f"/api/v1/materials/{material_id}"
    response = client.patch(url, json={"access_level": "open", **fields},
                            headers=if_match(client, url, auth("archivist")))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _published(client, auth, name: str) -> dict[str, Any]:
    person = make_person(client, auth("collector"), name=name)
    advance(client, person["id"], auth("collector"), "submit")
    return advance(client, person["id"], auth("archivist"), "approve", "publish")


def _interview(client, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/interviews", json={"title": "访谈", **fields}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _notification_get(client, headers: dict[str, str], notification_id: int) -> dict[str, Any]:
    items = client.get("/api/v1/me/notifications?per_page=100", headers=headers).get_json()["items"]
    return next(item for item in items if item["id"] == notification_id)


def test_first_sync_is_what_the_user_may_see_exactly_as_their_gets_answer(client, auth):
    own = make_person(client, auth("collector"), name="自己的草稿", id_number=VALID_ID_2, phone="13812345678")
    others_draft = make_person(client, auth("other_collector"), name="别人的草稿")
    published = _published(client, auth, "已发布的人")
    own_photo = upload_png(client, auth("collector"), 1, person_id=str(own["id"]), title="自己的照片")
    hidden = upload_png(client, auth("other_collector"), 2, title="别人的受限资料")
    open_one = upload_png(client, auth("other_collector"), 3, title="别人的开放资料")
    _open(client, auth, open_one["id"])
    own_interview = _interview(client, auth("collector"), interviewee_ids=[own["id"]])
    others_interview = _interview(client, auth("other_collector"))

    phone = Phone(client, auth("collector"))
    received = phone.sync()

    assert all(change["op"] == "upsert" for change in received), "a first sync has nothing to delete"
    persons, materials = phone.of_type("person"), phone.of_type("material")
    assert own["id"] in persons and published["id"] in persons and others_draft["id"] not in persons
    assert own_photo["id"] in materials and open_one["id"] in materials and hidden["id"] not in materials
    # the materials make_publishable uploaded for the published profile are the collector's own
    assert set(phone.of_type("interview")) == {own_interview["id"]} and others_interview["id"] not in persons
    assert persons[own["id"]]["personal_data_masked"] is True and persons[own["id"]]["id_number"] != VALID_ID_2
    for (entity_type, entity_id), data in phone.records.items():
        if entity_type in URLS:
            response = client.get(URLS[entity_type].format(entity_id), headers=auth("collector"))
            assert data == response.get_json(), (entity_type, entity_id)
            assert phone.etags[(entity_type, entity_id)] == response.headers["ETag"]

    everything = Phone(client, auth("archivist"))
    everything.sync()
    assert others_draft["id"] in everything.of_type("person") and hidden["id"] in everything.of_type("material")
    full = everything.of_type("person")[own["id"]]
    assert full["id_number"] == VALID_ID_2 and full["personal_data_masked"] is False
    assert full == client.get(URLS["person"].format(own["id"]), headers=auth("archivist")).get_json()


def test_two_phones_edit_the_same_draft_offline(client, auth):
    """Both phones of one collector synced; each edits the draft offline. The first push wins, the second is told
    412, syncs, sees the first one's change with the new version and reapplies it."""
    person = make_person(client, auth("collector"), name="两部手机")
    url = URLS["person"].format(person["id"])
    phone_a, phone_b = Phone(client, auth("collector")), Phone(client, auth("collector"))
    phone_a.sync(), phone_b.sync()
    key = ("person", person["id"])
    assert phone_a.etags[key] == phone_b.etags[key] == '"1"'

    pushed = _patch(client, url, {"occupation": "木匠"}, auth("collector"), phone_a.etags[key])
    assert pushed.status_code == 200 and pushed.headers["ETag"] == '"2"'
    stale = _patch(client, url, {"native_place": "江苏连云港"}, auth("collector"), phone_b.etags[key])
    error = assert_error(stale, 412, "version_conflict")
    assert error["details"]["current_version"] == 2

    [change] = phone_b.sync()
    assert change["op"] == "upsert" and change["version"] == 2 and change["data"]["occupation"] == "木匠"
    again = _patch(client, url, {"native_place": "江苏连云港"}, auth("collector"), phone_b.etags[key])
    assert again.status_code == 200 and again.get_json()["version"] == 3
    assert again.get_json()["occupation"] == "木匠" and again.get_json()["native_place"] == "江苏连云港"

    [change] = phone_a.sync()
    assert change["data"] == again.get_json() and phone_a.etags[key] == '"3"'
    # Nobody else has touched the draft: the collector's phone may also push without If-Match.
    blind = _patch(client, url, {"ethnicity": "汉族"}, auth("collector"))
    assert blind.status_code == 200 and blind.get_json()["version"] == 4


def test_collector_and_editor_edit_offline_the_collector_needs_if_match_then(client, auth):
    person = make_person(client, auth("collector"), name="编辑也改")
    url = URLS["person"].format(person["id"])
    collector_phone, editor_phone = Phone(client, auth("collector")), Phone(client, auth("editor"))
    collector_phone.sync(), editor_phone.sync()
    key = ("person", person["id"])

    edited = _patch(client, url, {"occupation": "编辑改的职业"}, auth("editor"), editor_phone.etags[key])
    assert edited.status_code == 200
    assert_error(_patch(client, url, {"occupation": "采集员改的"}, auth("collector")), 428, "if_match_required")
    assert_error(_patch(client, url, {"occupation": "采集员改的"}, auth("collector"), collector_phone.etags[key]),
                 412, "version_conflict")

    [change] = collector_phone.sync()
    assert change["data"]["occupation"] == "编辑改的职业" and change["etag"] == '"2"'
    reapplied = _patch(client, url, {"occupation": "采集员改的"}, auth("collector"), collector_phone.etags[key])
    assert reapplied.status_code == 200 and reapplied.get_json()["version"] == 3
    [change] = editor_phone.sync()
    assert change["data"]["occupation"] == "采集员改的" and editor_phone.etags[key] == '"3"'


def test_withdrawn_profile_and_restricted_material_become_tombstones(client, auth):
    person = _published(client, auth, "将被撤下")
    photo = upload_png(client, auth("collector"), 7, person_id=str(person["id"]), title="公开照片")
    _open(client, auth, photo["id"])
    onlooker, owner = Phone(client, auth("other_collector")), Phone(client, auth("collector"))
    onlooker.sync(), owner.sync()
    assert person["id"] in onlooker.of_type("person") and photo["id"] in onlooker.of_type("material")

    advance(client, person["id"], auth("archivist"), "withdraw")
    url = f"/api/v1/materials/{photo['id']}"
    assert client.patch(url, json={"access_level": "restricted"},
                        headers=if_match(client, url, auth("archivist"))).status_code == 200

    received = {(c["type"], c["id"]): c for c in onlooker.sync()}
    assert received[("person", person["id"])]["op"] == "delete"
    assert received[("material", photo["id"])]["op"] == "delete"
    assert person["id"] not in onlooker.of_type("person") and photo["id"] not in onlooker.of_type("material")
    # The owner still sees both, as they are now.
    mine = {(c["type"], c["id"]): c for c in owner.sync()}
    assert mine[("person", person["id"])]["data"]["status"] == "withdrawn"
    assert mine[("material", photo["id"])]["data"]["access_level"] == "restricted"


def test_withdrawing_the_public_consent_tombstones_the_profile(client, auth):
    person = _published(client, auth, "撤回授权")
    onlooker = Phone(client, auth("other_collector"))
    onlooker.sync()
    assert person["id"] in onlooker.of_type("person")
    consents = client.get(f"/api/v1/persons/{person['id']}/consents", headers=auth("archivist")).get_json()["items"]
    public = next(c for c in consents if c["scope"] == "public")
    response = client.post(f"/api/v1/persons/{person['id']}/consents/{public['id']}/withdraw",
                           json={"reason": "家属要求"}, headers=auth("archivist"))
    assert response.status_code == 200
    assert {"type": "person", "id": person["id"], "op": "delete"} in onlooker.sync()


def test_deleted_records_become_tombstones_only_for_phones_that_may_have_had_them(client, auth):
    draft = make_person(client, auth("collector"), name="要删除的草稿")
    interview = _interview(client, auth("collector"))
    phone_a, phone_b, onlooker = (Phone(client, auth("collector")), Phone(client, auth("collector")),
                                  Phone(client, auth("other_collector")))
    for phone in (phone_a, phone_b, onlooker):
        phone.sync()
    assert ("person", draft["id"]) in phone_b.records and ("interview", interview["id"]) in phone_b.records
    created_and_deleted = make_person(client, auth("other_collector"), name="一闪而过")

    assert client.delete(URLS["person"].format(draft["id"]), headers=auth("collector")).status_code == 204
    assert client.delete(URLS["interview"].format(interview["id"]), headers=auth("collector")).status_code == 204
    assert client.delete(URLS["person"].format(created_and_deleted["id"]),
                         headers=auth("other_collector")).status_code == 204

    received = phone_b.sync()
    assert {"type": "person", "id": draft["id"], "op": "delete"} in received
    assert {"type": "interview", "id": interview["id"], "op": "delete"} in received
    assert ("person", draft["id"]) not in phone_b.records and ("interview", interview["id"]) not in phone_b.records
    assert ("person", created_and_deleted["id"]) not in {(c["type"], c["id"]) for c in received}
    # The onlooker never saw the collector's draft, but it existed before its cursor, so a tombstone may name it
    # (deleting what a phone does not have changes nothing); the profile created after its cursor is not named.
    seen = {(c["type"], c["id"]): c["op"] for c in onlooker.sync()}
    assert ("person", created_and_deleted["id"]) not in seen and set(seen.values()) <= {"delete"}
    assert onlooker.of_type("person") == {}


def test_returned_profile_brings_the_comment_and_a_notification_read_on_one_phone_reads_on_the_other(client, auth):
    person = make_person(client, auth("collector"), name="被退回的")
    phone_a, phone_b, onlooker = (Phone(client, auth("collector")), Phone(client, auth("collector")),
                                  Phone(client, auth("other_collector")))
    for phone in (phone_a, phone_b, onlooker):
        phone.sync()
    advance(client, person["id"], auth("collector"), "submit")
    advance(client, person["id"], auth("archivist"), "return")  # comment 请补充生平

    received = phone_a.sync()
    profile = phone_a.of_type("person")[person["id"]]
    assert profile["status"] == "returned" and profile["return_comment"] == "请补充生平"
    [notification] = [c for c in received if c["type"] == "notification"]
    assert notification["op"] == "upsert" and "etag" not in notification
    assert notification["data"]["comment"] == "请补充生平" and notification["data"]["read"] is False
    assert notification["data"] == _notification_get(client, auth("collector"), notification["id"])
    seen = onlooker.sync()
    assert [c for c in seen if c["type"] == "notification"] == [], "another's notification: not even a tombstone"
    assert all(c["op"] == "delete" for c in seen)  # the draft it never had, named because it changed

    phone_b.sync()
    read = client.post(f"/api/v1/me/notifications/{notification['id']}/read", headers=auth("collector"))
    assert read.status_code == 200
    [change] = phone_b.sync()
    assert change["type"] == "notification" and change["data"]["read"] is True
    # read-all is one UPDATE over many rows: it reaches the phones too
    advance(client, person["id"], auth("collector"), "submit")
    advance(client, person["id"], auth("archivist"), "return")
    phone_b.sync()
    assert client.post("/api/v1/me/notifications/read-all", headers=auth("collector")).status_code == 200
    assert all(n["read"] for n in [c["data"] for c in phone_b.sync() if c["type"] == "notification"])
    assert all(data["read"] for data in phone_b.of_type("notification").values())


def test_links_and_processing_reach_the_phone(client, auth):
    """What changes a material without touching its row (a person linked, a derivative made) is a change of it."""
    first, second = make_person(client, auth("collector"), name="甲"), make_person(client, auth("collector"), name="乙")
    photo = upload_png(client, auth("collector"), 11, person_id=str(first["id"]))
    phone = Phone(client, auth("collector"))
    phone.sync()
    assert phone.of_type("material")[photo["id"]]["person_ids"] == [first["id"]]
    assert "thumbnail" in phone.of_type("material")[photo["id"]]["variants"]
    response = client.post(f"/api/v1/materials/{photo['id']}/persons", json={"person_id": second["id"]},
                           headers=auth("collector"))
    assert response.status_code == 200
    [change] = phone.sync()
    assert change["data"]["person_ids"] == sorted([first["id"], second["id"]])


def test_deleting_a_draft_resends_the_materials_it_was_linked_to(client, auth):
    """The link goes with the profile (ON DELETE CASCADE, no row of the material changes), yet the material's
    person_ids did change: the phone gets the material again."""
    draft = make_person(client, auth("collector"), name="删掉的草稿")
    photo = upload_png(client, auth("collector"), 31, person_id=str(draft["id"]))
    phone = Phone(client, auth("collector"))
    phone.sync()
    assert phone.of_type("material")[photo["id"]]["person_ids"] == [draft["id"]]
    assert client.delete(URLS["person"].format(draft["id"]), headers=auth("collector")).status_code == 204
    received = {(c["type"], c["id"]): c for c in phone.sync()}
    assert received[("person", draft["id"])]["op"] == "delete"
    assert received[("material", photo["id"])]["data"]["person_ids"] == []
    assert phone.of_type("material")[photo["id"]] == client.get(
        URLS["material"].format(photo["id"]), headers=auth("collector")).get_json()


def test_a_profile_change_resends_the_materials_and_interviews_that_name_it(client, auth):
    """Whatever a material or interview shows of a profile follows the profile (the rules may hide a withdrawn
    profile's id in them): both come again when the profile changes."""
    person = _published(client, auth, "被引用的人")
    photo = upload_png(client, auth("collector"), 32, person_id=str(person["id"]))
    _open(client, auth, photo["id"])
    interview = _interview(client, auth("collector"), interviewee_ids=[person["id"]])
    onlooker, owner = Phone(client, auth("other_collector")), Phone(client, auth("collector"))
    onlooker.sync(), owner.sync()
    advance(client, person["id"], auth("archivist"), "withdraw")
    assert ("material", photo["id"], "upsert") in {(c["type"], c["id"], c["op"]) for c in onlooker.sync()}
    assert {("interview", interview["id"]), ("material", photo["id"])} <= {(c["type"], c["id"]) for c in owner.sync()}


def test_paging_has_no_duplicates_or_gaps_while_records_keep_changing(client, auth):
    ids = [make_person(client, auth("collector"), name=f"第{i}位").get("id") for i in range(60)]
    phone = Phone(client, auth("collector"), limit=7)
    first = phone.page()
    assert first["has_more"] and len(first["changes"]) == 7

    # Quiet paging: every record exactly once, in at most ceil(60 / 7) pages.
    quiet = Phone(client, auth("collector"), limit=7)
    received = quiet.sync()
    assert sorted(c["id"] for c in received) == sorted(ids) and len(quiet.pages) <= 9

    # Busy paging: records change between the pages, delivered ones and ones still to come.
    step = 0
    while True:
        body = phone.page()
        step += 1
        target = ids[(step * 13) % len(ids)]
        url = URLS["person"].format(target)
        if client.get(url, headers=auth("collector")).status_code == 200:
            assert _patch(client, url, {"occupation": f"第{step}次改"}, auth("collector")).status_code == 200
        if step == 3:
            assert client.delete(URLS["person"].format(ids[1]), headers=auth("collector")).status_code == 204
            ids.append(make_person(client, auth("collector"), name="后来的").get("id"))
        if not body["has_more"]:
            break
    phone.sync()
    server: dict[int, Any] = {}
    page = 1
    while True:
        listing = client.get(f"/api/v1/persons?per_page=100&page={page}", headers=auth("collector")).get_json()
        server.update({item["id"]: item for item in listing["items"]})
        if page * 100 >= listing["total"]:
            break
        page += 1
    assert phone.of_type("person") == server
    assert ids[1] not in server and ids[-1] in server


def test_an_ended_embargo_reaches_the_phone_without_any_change(client, auth, clock, app, users):
    photos = [upload_png(client, auth("collector"), 20 + i, title=f"限期{i}") for i in range(3)]
    ends = date.today() + timedelta(days=2)
    for photo in photos:
        _open(client, auth, photo["id"], embargo_until=ends.isoformat())
    onlooker = Phone(client, auth("other_collector"), limit=2)
    onlooker.sync()
    assert onlooker.of_type("material") == {}

    clock.advance(timedelta(days=3))
    with app.app_context():  # the phone logs in again after three days (token times follow the moved clock)
        token = create_access_token(identity=str(users["other_collector"]), expires_delta=timedelta(days=4))
    onlooker.headers = {"Authorization": f"Bearer {token}"}
    received = onlooker.sync()
    assert sorted(c["id"] for c in received if c["op"] == "upsert") == sorted(p["id"] for p in photos)
    assert len(onlooker.pages) >= 3  # the ended embargoes came in pages of two as well
    assert onlooker.sync() == []
    assert onlooker.of_type("material")[photos[0]["id"]] == client.get(
        URLS["material"].format(photos[0]["id"]), headers=onlooker.headers).get_json()


def test_bad_and_stale_cursors(client, auth, app):
    make_person(client, auth("collector"), name="游标")
    phone = Phone(client, auth("collector"))
    phone.sync()
    for bad in ("not-a-cursor", "%%%", base64.urlsafe_b64encode(b"1.abc.x.1.0").decode(),
                base64.urlsafe_b64encode("1.ab.¹.1.0".encode()).decode()):
        error = assert_error(client.get("/api/v1/sync", query_string={"since": bad}, headers=auth("collector")),
                             422, "invalid_cursor")
        assert "since" in error["details"]["fields"]
    assert_error(client.get("/api/v1/sync?limit=0", headers=auth("collector")), 422)
    assert_error(client.get("/api/v1/sync?limit=501", headers=auth("collector")), 422)
    assert_error(client.get("/api/v1/sync"), 401)

    raw = base64.urlsafe_b64decode(phone.cursor + "=" * (-len(phone.cursor) % 4)).decode()
    version, epoch, seq, day, after = raw.split(".")
    foreign = base64.urlsafe_b64encode(f"1.{'f' * 32}.{seq}.{day}.{after}".encode()).decode().rstrip("=")
    gone = assert_error(client.get("/api/v1/sync", query_string={"since": foreign}, headers=auth("collector")),
                        410, "full_sync_required")
    assert gone["details"]["since"] == foreign
    ahead = base64.urlsafe_b64encode(f"1.{epoch}.{int(seq) + 1000}.{day}.{after}".encode()).decode().rstrip("=")
    assert_error(client.get("/api/v1/sync", query_string={"since": ahead}, headers=auth("collector")),
                 410, "full_sync_required")
    # A cursor at the very start is a full sync on any log.
    start = base64.urlsafe_b64encode(f"1.{'e' * 32}.0.{day}.0".encode()).decode().rstrip("=")
    response = client.get("/api/v1/sync", query_string={"since": start}, headers=auth("collector"))
    assert response.status_code == 200 and len(response.get_json()["changes"]) == 1


def test_openapi_documents_sync_with_its_response_schemas(client):
    spec = client.get("/api/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/sync"]["get"]
    assert {"200", "410", "422"} <= set(operation["responses"])
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/SyncPage")
    assert {p["name"] for p in operation["parameters"]} >= {"since", "limit"}
    page = spec["components"]["schemas"]["SyncPage"]
    assert set(page["required"]) == {"changes", "cursor", "has_more"}
    change = spec["components"]["schemas"]["SyncChange"]["properties"]
    assert change["op"]["enum"] == ["upsert", "delete"]
    for ref in change["data"]["anyOf"]:
        assert ref["$ref"].rsplit("/", 1)[1] in spec["components"]["schemas"], ref
