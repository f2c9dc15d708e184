"""List paging: keyset cursors for deep pages, and totals that are cached yet always exact for the caller."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import select

from backend import transaction
from backend.extensions import db
from backend.models import Person, User
from backend.services import pagination
from backend.services import persons as person_service
from backend.services import policy
from backend.services.pagination import count_total, encode_cursor
from tests.api.helpers import advance, assert_error, if_match, make_person
from tests.conftest import PASSWORD
from tests.support.statements import counted_statements


def _walk(client, headers, query: str) -> tuple[list[str], list[dict]]:
    """Every page of ``query`` by next_cursor: the names in order, and the raw pages."""
    pages = [client.get(f"/api/v1/persons?{query}", headers=headers).get_json()]
    while pages[-1]["next_cursor"]:
        response = client.get(f"/api/v1/persons?{query}&cursor={pages[-1]['next_cursor']}", headers=headers)
        assert response.status_code == 200, response.get_json()
        pages.append(response.get_json())
    return [p["name"] for page in pages for p in page["items"]], pages


@pytest.mark.both_databases  # keyset comparisons on text and time columns, ties broken by id
@pytest.mark.parametrize("sort", ["-updated", "pinyin", "-pinyin", "created"])
def test_a_cursor_walk_shows_every_profile_once_while_others_are_added(client, auth, sort):
    names = [f"人物{i:02d}" for i in range(23)]
    for name in names:
        make_person(client, auth("editor"), name=name)
    first = client.get(f"/api/v1/persons?sort={sort}&per_page=4", headers=auth("archivist")).get_json()
    assert first["page"] == 1 and first["next_cursor"]
    seen = [p["name"] for p in first["items"]]
    cursor, added = first["next_cursor"], 0
    while cursor:
        make_person(client, auth("editor"), name=f"新增{added:02d}")  # lands before or after the walk's position
        added += 1
        page = client.get(f"/api/v1/persons?sort={sort}&per_page=4&cursor={cursor}",
                          headers=auth("archivist")).get_json()
        assert page["page"] is None and page["per_page"] == 4
        seen += [p["name"] for p in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)), "a profile was shown twice"
    assert set(names) <= set(seen), "a profile was skipped"
    assert page["total"] == len(names) + added


@pytest.mark.both_databases
def test_cursor_pages_follow_the_sort_and_filters(client, auth):
    for name in ["赵一", "安二", "孙三", "白四", "陈五"]:
        make_person(client, auth("editor"), name=name, tags=["剪纸"] if name != "孙三" else [])
    walked, pages = _walk(client, auth("archivist"), "sort=pinyin&per_page=2&tag=剪纸")
    assert walked == ["安二", "白四", "陈五", "赵一"]
    assert [len(page["items"]) for page in pages] == [2, 2]
    assert pages[-1]["next_cursor"] is None
    assert all(page["total"] == 4 for page in pages)
    by_page = client.get("/api/v1/persons?sort=pinyin&per_page=2&tag=剪纸&page=2", headers=auth("archivist")).get_json()
    assert [p["name"] for p in by_page["items"]] == ["陈五", "赵一"] and by_page["page"] == 2


@pytest.mark.both_databases
@pytest.mark.parametrize("sort", ["-updated", "pinyin"])
def test_deep_numbered_pages_show_the_same_profiles_as_the_cursor_walk(client, auth, monkeypatch, sort):
    """A numbered page deep in the list (its ids found along the order's index first) holds exactly the profiles
    the cursor walk shows at that place, with their tags, and the collector's page only what the collector sees."""
    for i in range(11):
        make_person(client, auth("editor" if i % 3 else "collector"), name=f"人物{i:02d}", tags=[f"标签{i % 2}"])
    monkeypatch.setattr(pagination, "DEFERRED_OFFSET", 2)
    for role in ("archivist", "collector"):
        walked, _pages = _walk(client, auth(role), f"sort={sort}&per_page=3")
        numbered = []
        for page in range(1, 6):
            answer = client.get(f"/api/v1/persons?sort={sort}&per_page=3&page={page}", headers=auth(role)).get_json()
            numbered += answer["items"]
        assert [p["name"] for p in numbered] == walked
        assert all(p["tags"] == [f"标签{int(p['name'][2:]) % 2}"] for p in numbered)
    assert len(walked) < 11  # the collector's list leaves out the others' drafts


@pytest.mark.both_databases  # a made-up cursor must never reach the database as a wrongly typed value
def test_bad_cursors_are_refused_with_a_clear_error(client, auth):
    make_person(client, auth("editor"), name="甲")
    make_person(client, auth("editor"), name="乙")
    pinyin_cursor = client.get("/api/v1/persons?sort=pinyin&per_page=1",
                               headers=auth("archivist")).get_json()["next_cursor"]
    forged = base64.urlsafe_b64encode(json.dumps([{"t": "2020-01-01T00:00:00"}, 1]).encode()).decode()
    huge = encode_cursor(["a", 2**70])
    nul = encode_cursor(["a\x00b", 1])
    for cursor in ("不是游标", "!!!", "e30", pinyin_cursor + "x", forged, huge, nul, encode_cursor([1])):
        response = client.get("/api/v1/persons", query_string={"cursor": cursor, "sort": "pinyin"},
                              headers=auth("archivist"))
        if cursor == forged:  # a naive time in a text column's place
            assert_error(response, 422, "invalid_cursor")
            continue
        assert_error(response, 422)
    # A cursor of one order used with another: refused, not a database type error.
    assert_error(client.get("/api/v1/persons", query_string={"cursor": pinyin_cursor, "sort": "-updated"},
                            headers=auth("archivist")), 422, "invalid_cursor")
    error = assert_error(client.get("/api/v1/persons", query_string={"cursor": pinyin_cursor, "page": 2},
                                    headers=auth("archivist")), 422)
    assert "cursor" in json.dumps(error["details"])


@pytest.mark.both_databases  # the cache key is the database's own query text and parameters
def test_totals_are_exact_for_each_role_after_every_change(client, auth):
    def total(role: str, query: str = "") -> int:
        return client.get(f"/api/v1/persons?{query}", headers=auth(role)).get_json()["total"]

    make_person(client, auth("collector"), name="自己的")
    assert (total("collector"), total("other_collector"), total("archivist")) == (1, 0, 1)
    others = make_person(client, auth("other_collector"), name="别人的草稿", tags=["剪纸"])
    # The other collector's draft counts for them and for staff, never for the collector.
    assert (total("collector"), total("other_collector"), total("archivist")) == (1, 1, 2)
    assert total("collector", "tag=剪纸") == 0 and total("archivist", "tag=剪纸") == 1
    advance(client, others["id"], auth("other_collector"), "submit")
    advance(client, others["id"], auth("archivist"), "approve", "publish")
    assert (total("collector"), total("collector", "tag=剪纸")) == (2, 1)
    # A tag removed by an edit: the filtered total follows at once, for every role.
    url = f"/api/v1/persons/{others['id']}"
    assert client.patch(url, json={"tags": []}, headers=if_match(client, url, auth("archivist"))).status_code == 200
    assert total("collector", "tag=剪纸") == 0 and total("archivist", "tag=剪纸") == 0
    advance(client, others["id"], auth("archivist"), "withdraw")
    assert (total("collector"), total("archivist")) == (1, 2)
    mine = client.get("/api/v1/persons", headers=auth("collector")).get_json()["items"][0]
    assert client.delete(f"/api/v1/persons/{mine['id']}",
                         headers=if_match(client, f"/api/v1/persons/{mine['id']}", auth("collector"))).status_code == 204
    assert (total("collector"), total("archivist")) == (0, 1)


@pytest.mark.both_databases
def test_a_transactions_own_writes_never_enter_the_cached_totals(app, users):
    with app.app_context():
        archivist = db.session.get(User, users["archivist"])
        query = select(Person).where(policy.visible_persons(archivist))
        with transaction.atomic():
            assert count_total(query, cache=True) == 0
        try:
            with transaction.atomic():
                person_service.create_person(archivist, {"category": "good_person", "name": "未提交"})
                assert count_total(query, cache=True) == 1  # its own row, uncommitted
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        with transaction.atomic():
            assert count_total(query, cache=True) == 0
            assert db.session.query(Person).count() == 0


def test_public_list_pages_by_cursor_too(client, auth):
    for name in ["甲一", "乙二", "丙三"]:
        advance(client, make_person(client, auth("archivist"), name=name)["id"], auth("archivist"),
                "submit", "approve", "publish")
    make_person(client, auth("archivist"), name="未发布")
    page = client.get("/api/public/persons?per_page=2").get_json()
    assert page["total"] == 3 and page["next_cursor"]
    rest = client.get(f"/api/public/persons?per_page=2&cursor={page['next_cursor']}").get_json()
    assert len(page["items"]) + len(rest["items"]) == 3 and rest["next_cursor"] is None
    assert {p["name"] for p in page["items"] + rest["items"]} == {"甲一", "乙二", "丙三"}


@pytest.mark.both_databases
def test_material_totals_follow_access_changes_for_other_collectors(client, auth):
    from tests.api.helpers import upload_png  # noqa: PLC0415

    def total(role: str) -> int:
        return client.get("/api/v1/materials", headers=auth(role)).get_json()["total"]

    material = upload_png(client, auth("other_collector"), seed=7)
    assert (total("collector"), total("other_collector"), total("archivist")) == (0, 1, 1)
    url = f"/api/v1/materials/{material['id']}"
    level = "restricted" if material["access_level"] == "open" else "open"
    response = client.patch(url, json={"access_level": level}, headers=if_match(client, url, auth("archivist")))
    assert response.status_code == 200, response.get_json()
    assert total("collector") == (1 if level == "open" else 0)
    back = "open" if level != "open" else "restricted"
    response = client.patch(url, json={"access_level": back}, headers=if_match(client, url, auth("archivist")))
    assert response.status_code == 200, response.get_json()
    assert total("collector") == (1 if back == "open" else 0)


@pytest.mark.both_databases
def test_a_list_page_is_one_statement_after_the_token_with_current_tags_and_total(app, client, auth):
    """The page's profiles, their tags and the change log's position (by which its total is cached) come in one
    statement: a list page costs the token check and that statement, however many tags. The tags are those just
    saved, in code point order ([] for none), and the total moves with every new profile, also on an empty page."""
    first = make_person(client, auth("editor"), name="甲", tags=["非遗", "剪纸", "渔民"])
    make_person(client, auth("editor"), name="乙", tags=[])
    login = client.post("/api/v1/auth/login", json={"username": "archivist", "password": PASSWORD}).get_json()
    headers = {"Authorization": f"Bearer {login['access_token']}"}  # a login session's token, as apps hold
    client.get("/api/v1/persons?sort=pinyin", headers=headers)  # counts the total for this state of the archive
    with counted_statements(app) as statements:
        page = client.get("/api/v1/persons?sort=pinyin", headers=headers).get_json()
    assert len(statements) == 2, statements
    assert [(p["name"], p["tags"]) for p in page["items"]] == [("甲", ["剪纸", "渔民", "非遗"]), ("乙", [])]
    assert page["total"] == 2

    url = f"/api/v1/persons/{first['id']}"
    response = client.patch(url, json={"tags": ["渔民", "书法"]}, headers=if_match(client, url, auth("editor")))
    assert response.status_code == 200, response.get_json()
    make_person(client, auth("editor"), name="丙", tags=["书法"])
    page = client.get("/api/v1/persons?sort=pinyin", headers=headers).get_json()
    assert [(p["name"], p["tags"]) for p in page["items"]] == [
        ("丙", ["书法"]), ("甲", ["书法", "渔民"]), ("乙", [])]
    assert page["total"] == 3
    assert client.get(url, headers=headers).get_json()["tags"] == ["书法", "渔民"]
    beyond = client.get("/api/v1/persons?sort=pinyin&page=5", headers=headers).get_json()
    assert beyond["items"] == [] and beyond["total"] == 3
