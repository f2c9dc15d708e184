"""Person profiles: fields, validation, masking, search, concurrency, offline retries, workflow and audit."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.exc import IntegrityError

from backend.extensions import db
from backend.models import Person
from backend.schemas.persons import PersonSchema, dump_person
from tests.api.helpers import VALID_ID, VALID_ID_2, advance, assert_error, if_match, make_person

FULL = {
    "category": "notable",
    "name": "王秀英",
    "aliases": ["王师傅"],
    "gender": "female",
    "ethnicity": "汉族",
    "birth_date": "1938-05",
    "death_date": None,
    "native_place": "江苏连云港",
    "area": {"district": "海州区", "town": "新坝镇", "village": "前进村"},
    "occupation": "剪纸艺人",
    "honours": [{"title": "省级非遗代表性传承人", "year": 2009, "conferred_by": "江苏省文化厅"}],
    "biography": "# 生平\n\n自幼随母学习剪纸。",
    "tags": ["剪纸", "非遗"],
    "id_number": VALID_ID_2,
    "phone": "13812345678",
    "address": "江苏省连云港市海州区新坝镇前进村8号",
}


@pytest.mark.both_databases  # JSON columns (aliases, honours) round trip
def test_create_full_profile_round_trips_chinese_fields(client, auth):
    created = make_person(client, auth("archivist"), **FULL)
    fetched = client.get(f"/api/v1/persons/{created['id']}", headers=auth("archivist"))
    assert fetched.status_code == 200
    body = fetched.get_json()
    for field, value in FULL.items():
        expected = sorted(value) if field == "tags" else value
        assert body[field] == expected, field
    assert body["status"] == "draft" and body["version"] == 1
    assert body["name_pinyin"] == "wang xiu ying"
    assert fetched.headers["ETag"] == '"1"'


@pytest.mark.parametrize("role, masked", [("collector", True), ("editor", True), ("archivist", False),
                                          ("admin", False)])
def test_personal_data_masked_for_roles_that_do_not_need_it(client, auth, role, masked):
    person = make_person(client, auth("collector"), **{**FULL, "category": "good_person"})
    if role != "collector":
        advance(client, person["id"], auth("collector"), "submit")
    body = client.get(f"/api/v1/persons/{person['id']}", headers=auth(role)).get_json()
    assert body["personal_data_masked"] is masked
    if masked:
        assert body["id_number"] == "3207**********0013"
        assert body["phone"] == "138****5678"
        assert "前进村8号" not in body["address"] and body["address"].endswith("****")
    else:
        assert body["id_number"] == VALID_ID_2 and body["phone"] == FULL["phone"]
        assert body["address"] == FULL["address"]


@pytest.mark.parametrize("id_number, reason", [
    ("110105194912310021", "check digit"),
    ("11010519491331002X", "month 13"),
    ("1101051949123100", "too short"),
    ("11010519491231002Y", "letter other than X"),
])
def test_invalid_id_numbers_are_refused(client, auth, id_number, reason):
    response = client.post("/api/v1/persons", json={"category": "good_person", "name": "李四",
                                                    "id_number": id_number}, headers=auth("collector"))
    error = assert_error(response, 422, "invalid_person")
    assert "id_number" in error["details"]["fields"], reason


def test_lower_case_x_is_normalised(client, auth):
    person = make_person(client, auth("archivist"), id_number=VALID_ID.lower())
    assert person["id_number"] == VALID_ID


@pytest.mark.parametrize("value, ok", [("1938", True), ("1938-05", True), ("1938-05-12", True),
                                       ("1938-13", False), ("1938-02-30", False), ("38-5-1", False),
                                       ("1938/05/12", False)])
def test_partial_dates(client, auth, value, ok):
    response = client.post("/api/v1/persons", json={"category": "local_worthy", "name": "赵五", "birth_date": value},
                           headers=auth("collector"))
    if ok:
        assert response.status_code == 201 and response.get_json()["birth_date"] == value
    else:
        assert_error(response, 422, "invalid_person")


def test_death_before_birth_is_refused(client, auth):
    response = client.post("/api/v1/persons", json={"category": "good_person", "name": "钱六", "birth_date": "1950",
                                                    "death_date": "1940-01"}, headers=auth("collector"))
    assert_error(response, 422, "invalid_person")


@pytest.mark.both_databases  # LIKE search with escaped wildcards
def test_pinyin_and_initials_search(client, auth):
    zhang = make_person(client, auth("editor"), name="张三")
    make_person(client, auth("editor"), name="李四", aliases=["小张"])
    make_person(client, auth("editor"), name="王五")
    ids = lambda q: {p["name"] for p in client.get(f"/api/v1/persons?q={q}", headers=auth("editor")).get_json()["items"]}  # noqa: E731
    assert ids("zhs") == {"张三"}
    assert ids("zs") == {"张三"}
    assert ids("zhangsan") == {"张三"}
    assert ids("zhang") == {"张三", "李四"}, "the alias 小张 contains 张 too"
    assert ids("张") == {"张三", "李四"}
    assert ids("xiaozhang") == {"李四"}, "aliases are searched too"
    assert ids("xz") == {"李四"}
    assert ids("三") == {"张三"}, "a given name alone finds the person"
    assert ids("san") == {"张三"}
    assert ids("Zhang San") == {"张三"}, "case and spaces do not matter"
    assert ids("wangliu") == set()
    assert ids("100%") == set(), "LIKE wildcards in q are literal"
    assert zhang["name_pinyin"] == "zhang san"


@pytest.mark.both_databases  # LIKE search over the rewritten search terms
def test_search_follows_renames(client, auth):
    person = make_person(client, auth("editor"), name="赵六")
    client.patch(f"/api/v1/persons/{person['id']}", json={"name": "钱七", "aliases": ["七哥"]}, headers=auth("editor"))
    names = lambda q: [p["name"] for p in client.get(f"/api/v1/persons?q={q}", headers=auth("editor")).get_json()["items"]]  # noqa: E731
    assert names("zhao") == []
    assert names("qianqi") == ["钱七"] and names("qige") == ["钱七"]


def _search_terms(app, person_id):  # type: ignore[no-untyped-def]
    from backend.extensions import db
    from backend.models import PersonSearchTerm

    with app.app_context():
        return {row.term for row in db.session.query(PersonSearchTerm).filter_by(person_id=person_id)}


def test_a_patch_sends_whole_nested_values(client, auth):
    """Found by the fuzz pass: a PATCH left out required fields of nested values too, so an honour without a title
    was stored, and every later answer about the profile broke its own documented schema."""
    person = make_person(client, auth("editor"))
    url = f"/api/v1/persons/{person['id']}"
    for honours in ([{}], [{"year": 2009}], [{"title": "奖", "year": 1999}, {"conferred_by": "县政府"}]):
        response = client.patch(url, json={"honours": honours}, headers=if_match(client, url, auth("editor")))
        error = assert_error(response, 422)
        assert "honours" in error["details"]["fields"]
    assert client.get(url, headers=auth("editor")).get_json()["honours"] == []
    response = client.patch(url, json={"honours": [{"title": "奖"}]}, headers=if_match(client, url, auth("editor")))
    assert response.status_code == 200 and response.get_json()["honours"] == [{"title": "奖"}]


def test_aliases_are_capped_in_number_and_length(app, client, auth):
    """One PATCH of 50 long aliases used to write 25,687 search-term rows; at most 20 aliases of 50 characters
    are taken now (a 422 otherwise), and the limits are in the OpenAPI document."""
    person = make_person(client, auth("editor"), name="王秀英")
    url = f"/api/v1/persons/{person['id']}"
    name_terms = _search_terms(app, person["id"])
    long_aliases = [f"{n:02d}" + "剪纸非遗传承人" * 18 for n in range(50)]
    for aliases in (long_aliases, [f"别名{n}" for n in range(21)], ["长" * 51]):
        response = client.patch(url, json={"aliases": aliases}, headers=if_match(client, url, auth("editor")))
        error = assert_error(response, 422)
        assert "aliases" in error["details"]["fields"]
        assert_error(client.post("/api/v1/persons", json={"category": "good_person", "name": "张三", "aliases": aliases},
                                 headers=auth("editor")), 422)
    assert _search_terms(app, person["id"]) == name_terms
    most = [f"{chr(0x4E00 + n)}" * 50 for n in range(20)]
    response = client.patch(url, json={"aliases": most}, headers=if_match(client, url, auth("editor")))
    assert response.status_code == 200 and response.get_json()["aliases"] == most
    assert len(_search_terms(app, person["id"])) <= (20 * 50 + 3) * 4
    spec = client.get("/api/openapi.json").get_json()
    aliases = spec["components"]["schemas"]["PersonInput"]["properties"]["aliases"]
    assert aliases["maxItems"] == 20 and aliases["items"]["maxLength"] == 50


def test_an_alias_change_rewrites_only_its_own_search_terms(app, client, auth):
    person = make_person(client, auth("editor"), name="王秀英", aliases=["剪纸奶奶", "王师傅"])
    url = f"/api/v1/persons/{person['id']}"
    before = _search_terms(app, person["id"])
    assert {"jianzhinainai", "jznn", "wangshifu", "wangxiuying", "xiuying"} <= before
    response = client.patch(url, json={"aliases": ["剪纸奶奶", "王老师"]}, headers=if_match(client, url, auth("editor")))
    assert response.status_code == 200
    after = _search_terms(app, person["id"])
    assert "wanglaoshi" in after and "wangshifu" not in after and "jianzhinainai" in after
    names = lambda q: [p["name"] for p in client.get("/api/v1/persons", query_string={"q": q},  # noqa: E731
                                                     headers=auth("editor")).get_json()["items"]]
    assert names("laoshi") == ["王秀英"] and names("shifu") == []
    response = client.patch(url, json={"biography": "新的生平"}, headers=if_match(client, url, auth("editor")))
    assert response.status_code == 200 and _search_terms(app, person["id"]) == after


@pytest.mark.both_databases  # ORDER BY text and time, COUNT over a subquery
def test_sorting_by_pinyin_and_paging(client, auth):
    for name in ["赵一", "安二", "孙三", "白四", "陈五"]:
        make_person(client, auth("editor"), name=name)
    page1 = client.get("/api/v1/persons?sort=pinyin&per_page=2", headers=auth("editor")).get_json()
    assert page1["total"] == 5 and page1["page"] == 1 and page1["per_page"] == 2
    assert [p["name"] for p in page1["items"]] == ["安二", "白四"]
    page3 = client.get("/api/v1/persons?sort=pinyin&per_page=2&page=3", headers=auth("editor")).get_json()
    assert [p["name"] for p in page3["items"]] == ["赵一"]
    desc = client.get("/api/v1/persons?sort=-pinyin", headers=auth("editor")).get_json()
    assert desc["items"][0]["name"] == "赵一"
    created = client.get("/api/v1/persons?sort=created", headers=auth("editor")).get_json()
    assert [p["name"] for p in created["items"]] == ["赵一", "安二", "孙三", "白四", "陈五"]


def test_filters(client, auth, users):
    make_person(client, auth("collector"), name="甲", category="notable", tags=["剪纸"],
                area={"district": "海州区", "town": "新坝镇"})
    make_person(client, auth("editor"), name="乙", category="good_person", area={"district": "连云区"})
    submitted = make_person(client, auth("editor"), name="丙", category="notable", tags=["剪纸", "非遗"])
    advance(client, submitted["id"], auth("editor"), "submit")
    names = lambda qs: sorted(p["name"] for p in client.get(f"/api/v1/persons?{qs}", headers=auth("archivist")).get_json()["items"])  # noqa: E731
    assert names("category=notable") == ["丙", "甲"]
    assert names("tag=剪纸") == ["丙", "甲"]
    assert names("tag=非遗") == ["丙"]
    assert names("area=新坝镇") == ["甲"]
    assert names("area=海州区") == ["甲"]
    assert names("status=submitted") == ["丙"]
    assert names(f"created_by={users['collector']}") == ["甲"]
    assert_error(client.get("/api/v1/persons?category=hero", headers=auth("archivist")), 422)
    assert_error(client.get("/api/v1/persons?sort=age", headers=auth("archivist")), 422)
    assert_error(client.get("/api/v1/persons?per_page=1000", headers=auth("archivist")), 422)


def test_collectors_see_their_own_and_published_only(client, auth):
    own = make_person(client, auth("collector"), name="自己的")
    others_draft = make_person(client, auth("other_collector"), name="别人的草稿")
    published = make_person(client, auth("other_collector"), name="已发布")
    advance(client, published["id"], auth("other_collector"), "submit")
    advance(client, published["id"], auth("archivist"), "approve", "publish")
    listing = client.get("/api/v1/persons", headers=auth("collector")).get_json()
    assert sorted(p["name"] for p in listing["items"]) == sorted(["自己的", "已发布"])
    assert listing["total"] == 2
    assert_error(client.get(f"/api/v1/persons/{others_draft['id']}", headers=auth("collector")), 404)
    assert client.get(f"/api/v1/persons/{own['id']}", headers=auth("collector")).status_code == 200
    assert client.get(f"/api/v1/persons/{published['id']}", headers=auth("collector")).status_code == 200


@pytest.mark.both_databases  # the version moves by a conditional UPDATE
def test_if_match_conflict_loses_nobodys_edit(client, auth):
    person = make_person(client, auth("editor"), name="周七")
    url = f"/api/v1/persons/{person['id']}"
    etag = client.get(url, headers=auth("editor")).headers["ETag"]
    first = client.patch(url, json={"occupation": "木匠"}, headers={**auth("editor"), "If-Match": etag})
    assert first.status_code == 200 and first.headers["ETag"] == '"2"'
    second = client.patch(url, json={"occupation": "铁匠"}, headers={**auth("archivist"), "If-Match": etag})
    error = assert_error(second, 412, "version_conflict")
    assert error["details"]["current_version"] == 2
    assert client.get(url, headers=auth("editor")).get_json()["occupation"] == "木匠"
    retry = client.patch(url, json={"occupation": "铁匠"}, headers={**auth("archivist"), "If-Match": '"2"'})
    assert retry.status_code == 200 and retry.get_json()["version"] == 3


def test_patch_without_changes_keeps_version(client, auth):
    person = make_person(client, auth("editor"), name="吴八", occupation="教师")
    response = client.patch(f"/api/v1/persons/{person['id']}", json={"occupation": "教师"}, headers=auth("editor"))
    assert response.get_json()["version"] == 1


@pytest.mark.both_databases  # PostgreSQL takes an advisory lock per key
def test_idempotency_key_replays_first_response(client, auth):
    headers = {**auth("collector"), "Idempotency-Key": "phone-42-create-1"}
    body = {"category": "good_person", "name": "郑九"}
    first = client.post("/api/v1/persons", json=body, headers=headers)
    second = client.post("/api/v1/persons", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert client.get("/api/v1/persons", headers=auth("collector")).get_json()["total"] == 1
    # same key, different body: refused rather than silently answered with the old response
    assert_error(client.post("/api/v1/persons", json={**body, "name": "别人"}, headers=headers), 422,
                 "idempotency_key_reused")
    # keys belong to a user: another collector's identical key is independent
    other = client.post("/api/v1/persons", json=body, headers={**auth("other_collector"),
                                                                "Idempotency-Key": "phone-42-create-1"})
    assert other.status_code == 201 and other.get_json()["id"] != first.get_json()["id"]


@pytest.mark.both_databases  # PostgreSQL takes an advisory lock per key
def test_idempotency_key_on_workflow_action(client, auth):
    person = make_person(client, auth("collector"))
    headers = {**auth("collector"), "Idempotency-Key": "submit-once"}
    first = client.post(f"/api/v1/persons/{person['id']}/submit", headers=headers)
    again = client.post(f"/api/v1/persons/{person['id']}/submit", headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.get_json()["status"] == "submitted"


@pytest.mark.both_databases  # PostgreSQL takes an advisory lock per key
def test_failed_request_does_not_burn_the_key(client, auth):
    headers = {**auth("collector"), "Idempotency-Key": "retry-after-fix"}
    bad = client.post("/api/v1/persons", json={"category": "good_person", "name": ""}, headers=headers)
    assert bad.status_code == 422
    good = client.post("/api/v1/persons", json={"category": "good_person", "name": ""}, headers=headers)
    assert good.status_code == 422, "the failure is not cached as a success"


@pytest.mark.both_databases  # a unique constraint (PostgreSQL aborts the transaction)
def test_client_uuid_syncs_without_duplicates(client, auth, app):
    client_uuid = str(uuid.uuid4())
    body = {"category": "local_worthy", "name": "冯十", "client_uuid": client_uuid}
    first = client.post("/api/v1/persons", json=body, headers=auth("collector"))
    again = client.post("/api/v1/persons", json=body, headers=auth("collector"))
    assert first.status_code == 201 and again.status_code == 200
    assert first.get_json()["id"] == again.get_json()["id"]
    assert_error(client.post("/api/v1/persons", json={**body, "client_uuid": "not-a-uuid"},
                             headers=auth("collector")), 422)

    # client_uuid is unique per creator: another user's phone may pick the same id and learns nothing from it
    theirs = client.post("/api/v1/persons", json={**body, "name": "冯十一"}, headers=auth("other_collector"))
    assert theirs.status_code == 201, theirs.get_json()
    assert theirs.get_json()["id"] != first.get_json()["id"] and theirs.get_json()["name"] == "冯十一"
    synced = client.post("/api/v1/persons", json=body, headers=auth("other_collector"))
    assert synced.status_code == 200 and synced.get_json()["id"] == theirs.get_json()["id"]
    mine = client.get(f"/api/v1/persons/{first.get_json()['id']}", headers=auth("collector")).get_json()
    assert mine["name"] == "冯十" and mine["version"] == 1

    # and the database holds it so: one creator cannot have two profiles with one client_uuid
    with app.app_context():
        owner = db.session.get(Person, first.get_json()["id"]).created_by_id
        db.session.add(Person(category="notable", name="重复", created_by_id=owner, client_uuid=client_uuid))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


@pytest.mark.both_databases  # audit changes as JSON
def test_full_workflow_and_audit_trail(client, auth, users):
    person = make_person(client, auth("collector"), name="陈十一")
    pid = person["id"]
    assert advance(client, pid, auth("collector"), "submit")["status"] == "submitted"
    url = f"/api/v1/persons/{pid}"
    returned = client.post(f"{url}/return", json={"comment": "请补充出生日期"},
                           headers=if_match(client, url, auth("archivist")))
    assert returned.status_code == 200
    assert returned.get_json()["status"] == "returned" and returned.get_json()["return_comment"] == "请补充出生日期"
    # returned to the collector after an archivist acted on it: no longer an untouched draft, so If-Match is needed
    assert_error(client.patch(url, json={"birth_date": "1940"}, headers=auth("collector")), 428, "if_match_required")
    fixed = client.patch(url, json={"birth_date": "1940"}, headers={**auth("collector"), "If-Match": returned.headers["ETag"]})
    assert fixed.status_code == 200
    advance(client, pid, auth("collector"), "submit")
    assert advance(client, pid, auth("archivist"), "approve")["status"] == "approved"
    assert advance(client, pid, auth("archivist"), "publish")["status"] == "published"
    assert advance(client, pid, auth("archivist"), "withdraw")["status"] == "withdrawn"
    events = client.get(f"/api/v1/audit?entity_type=person&entity_id={pid}&per_page=50",
                        headers=auth("archivist")).get_json()["items"]
    actions = [e["action"] for e in reversed(events)]
    assert actions == ["create", "submit", "return", "update", "submit", "approve", "publish", "withdraw"]
    update = next(e for e in events if e["action"] == "update")
    assert update["changes"] == {"birth_date": {"before": None, "after": "1940"}}
    assert update["actor_id"] == users["collector"] and update["actor_name"] == "collector"
    assert {e["actor_name"] for e in events if e["action"] in ("approve", "publish")} == {"archivist"}
    returned_event = next(e for e in events if e["action"] == "return")
    assert returned_event["comment"] == "请补充出生日期"
    assert returned_event["changes"]["status"] == {"before": "submitted", "after": "returned"}


@pytest.mark.parametrize("start, action", [
    ([], "approve"), ([], "publish"), ([], "withdraw"), ([], "return"),
    (["submit"], "submit"), (["submit"], "publish"),
    (["submit", "approve"], "approve"), (["submit", "approve"], "submit"),
    (["submit", "approve", "publish"], "publish"), (["submit", "approve", "publish"], "approve"),
    (["submit", "approve", "publish", "withdraw"], "withdraw"),
    (["submit", "approve", "publish", "withdraw"], "publish"),
])
def test_illegal_transitions_are_409(client, auth, start, action):
    person = make_person(client, auth("editor"))
    advance(client, person["id"], auth("archivist"), *start)
    url = f"/api/v1/persons/{person['id']}"
    response = client.post(f"{url}/{action}", json={"comment": "x"}, headers=if_match(client, url, auth("archivist")))
    error = assert_error(response, 409, "invalid_transition")
    assert error["details"]["action"] == action


def test_return_needs_a_comment(client, auth):
    person = make_person(client, auth("collector"))
    advance(client, person["id"], auth("collector"), "submit")
    url = f"/api/v1/persons/{person['id']}"
    assert_error(client.post(f"{url}/return", headers=if_match(client, url, auth("archivist"))), 422,
                 "comment_required")


def test_edit_rights_follow_status(client, auth):
    person = make_person(client, auth("collector"))
    url = f"/api/v1/persons/{person['id']}"
    def patch(who: str):  # type: ignore[no-untyped-def]
        etag = client.get(url, headers=auth("admin")).headers["ETag"]
        return client.patch(url, json={"occupation": f"by {who}"}, headers={**auth(who), "If-Match": etag})

    assert patch("collector").status_code == 200
    assert_error(patch("other_collector"), 404)
    advance(client, person["id"], auth("collector"), "submit")
    assert_error(patch("collector"), 403, "person_not_editable")
    assert patch("editor").status_code == 200
    advance(client, person["id"], auth("archivist"), "approve")
    assert_error(patch("editor"), 403, "person_not_editable")
    assert patch("archivist").status_code == 200


def test_delete_only_drafts_by_creator_or_admin(client, auth):
    mine = make_person(client, auth("collector"))
    assert_error(client.delete(f"/api/v1/persons/{mine['id']}", headers=auth("editor")), 403)
    assert client.delete(f"/api/v1/persons/{mine['id']}", headers=auth("collector")).status_code == 204
    assert_error(client.get(f"/api/v1/persons/{mine['id']}", headers=auth("collector")), 404)
    submitted = make_person(client, auth("collector"))
    advance(client, submitted["id"], auth("collector"), "submit")
    assert_error(client.delete(f"/api/v1/persons/{submitted['id']}", headers=auth("admin")), 409, "person_not_draft")
    by_admin = make_person(client, auth("collector"))
    assert client.delete(f"/api/v1/persons/{by_admin['id']}", headers=auth("admin")).status_code == 204


def test_each_profile_says_what_the_caller_may_do_with_it_now(client, auth):
    """``actions`` follows the rules of the actions themselves: a console shows exactly these buttons."""
    person = make_person(client, auth("collector"))
    url = f"/api/v1/persons/{person['id']}"

    def actions(role: str) -> list[str]:
        return client.get(url, headers=auth(role)).get_json()["actions"]

    assert person["actions"] == ["edit", "submit", "delete", "record_consent"]
    assert actions("editor") == ["edit", "submit"]
    assert actions("archivist") == ["edit", "submit", "record_consent", "withdraw_consent"]
    advance(client, person["id"], auth("collector"), "submit")
    assert actions("collector") == ["record_consent"], "a submitted profile is no longer the collector's to edit"
    assert actions("editor") == ["edit"]
    assert actions("archivist") == ["edit", "approve", "return", "withdraw", "record_consent", "withdraw_consent"]
    advance(client, person["id"], auth("archivist"), "approve")
    assert actions("editor") == [], "approved profiles are the archivists' to change"
    assert actions("archivist") == ["edit", "return", "publish", "withdraw", "record_consent", "withdraw_consent"]
    listed = client.get("/api/v1/persons", headers=auth("archivist")).get_json()["items"]
    assert [p["actions"] for p in listed if p["id"] == person["id"]] == [actions("archivist")]
    # What `actions` offers is what the API then does, and what it leaves out is refused.
    assert_error(client.post(f"{url}/approve", headers=if_match(client, url, auth("editor"))), 403)
    published = advance(client, person["id"], auth("archivist"), "publish")
    assert published["actions"] == ["edit", "withdraw", "record_consent", "withdraw_consent"]
    assert actions("collector") == ["record_consent"]


@pytest.mark.both_databases
def test_list_items_are_exactly_what_the_person_schema_dumps(app, client, auth):
    """The list's direct serialiser (dump_person) against PersonSchema on a full profile and a bare draft."""
    full = make_person(client, auth("archivist"), **FULL)
    bare = make_person(client, auth("archivist"), category="good_person", name="李四")
    with app.app_context():
        for person_id in (full["id"], bare["id"]):
            person = db.session.get(Person, person_id)
            expected = PersonSchema(exclude=("personal_data_masked", "actions")).dump(person)
            assert dump_person(person) == expected
