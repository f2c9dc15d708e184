"""Full-text search as users meet it, on SQLite and PostgreSQL: words down to one character, phrases, exclusions,
Traditional and full-width input, names by pinyin, ranking, highlights, facets, the index following every write,
and visibility for each role."""

from __future__ import annotations

from typing import Any

import pytest

from backend.extensions import db
from backend.jobs import tasks
from backend.models import Material, SearchStatistics, SearchTermStatistics
from backend.services import search as search_service
from backend.services import search_index
from backend.services.search_text import parse
from tests.api.helpers import VALID_ID, advance, assert_error, if_match, make_person
from tests.conftest import PASSWORD
from tests.review.helpers import make_transcript, user_id

pytestmark = pytest.mark.both_databases  # each engine's index and queries

SEGMENTS = [
    (0.0, 2.5, "我叫王秀英，今年八十三岁。", "SPEAKER_1", False),
    (2.5, 5.0, "小时候家里在新坝镇打鱼。", "SPEAKER_1", False),
    (5.5, 8.0, "后来纺织厂招工，我就进了纺织厂。", "SPEAKER_1", False),
    (8.0, 10.0, "厂里的织布机很响，纺纱也累。", "SPEAKER_2", False),
    (10.0, 11.5, "Radio 里说 OK，<b>大家</b>都笑了。", "SPEAKER_2", False),
]


def search(client: Any, headers: dict[str, str], q: str, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/search", query_string={"q": q, **params}, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def texts(body: dict[str, Any]) -> list[str]:
    return [item["highlight"].replace("<mark>", "").replace("</mark>", "") for item in body["items"]]


@pytest.fixture
def transcript(app: Any, client: Any, auth: Any) -> int:
    return make_transcript(app, user_id(client, auth("collector")), SEGMENTS, title="王秀英口述")


def test_words_of_one_and_two_characters_phrases_and_exclusions(client, auth, transcript):
    editor = auth("editor")
    one = search(client, editor, "鱼", type="segment")
    assert one["total"] == 1 and one["items"][0]["highlight"] == "小时候家里在新坝镇打<mark>鱼</mark>。"
    hit = one["items"][0]
    assert (hit["transcript_id"], hit["segment_index"], hit["start"], hit["end"]) == (transcript, 1, 2.5, 5.0)
    assert hit["title"] == "王秀英口述"
    assert hit["play_url"] == f"/api/v1/materials/{hit['material_id']}/content?variant=proxy#t=2.50,5.00"
    assert client.get(hit["url"], headers=editor).status_code == 200

    assert [i["segment_index"] for i in search(client, editor, "纺织", type="segment")["items"]] == [2]
    # both words must occur; scattered characters of one word are not a hit
    assert [i["segment_index"] for i in search(client, editor, "纺 织", type="segment")["items"]] == [2, 3]
    assert search(client, editor, "织纺", type="segment")["total"] == 0
    assert [i["segment_index"] for i in search(client, editor, "厂 -纺织", type="segment")["items"]] == [3]
    assert [i["segment_index"] for i in search(client, editor, '"进了纺织"', type="segment")["items"]] == [2]
    # Traditional, full-width and case fold onto the stored text
    assert [i["segment_index"] for i in search(client, editor, "紡織廠", type="segment")["items"]] == [2]
    assert [i["segment_index"] for i in search(client, editor, "ＲＡＤＩＯ", type="segment")["items"]] == [4]
    assert [i["segment_index"] for i in search(client, editor, "ok", type="segment")["items"]] == [4]


def test_highlight_is_html_escaped(client, auth, transcript):
    body = search(client, auth("editor"), "大家", type="segment")
    assert body["items"][0]["highlight"] == "Radio 里说 OK，&lt;b&gt;<mark>大家</mark>&lt;/b&gt;都笑了。"


def test_exact_phrase_ranks_above_scattered_words(client, auth, app):
    collector = user_id(client, auth("collector"))
    make_transcript(app, collector, [(0.0, 1.0, "纺纱的活很累，后来进了织布厂。", "SPEAKER_1", False),
                                     (1.0, 2.0, "我在纺织厂干了三十年。", "SPEAKER_1", False),
                                     (2.0, 3.0, "纺车和织机都是木头的。", "SPEAKER_1", False)])
    body = search(client, auth("editor"), "纺 织", type="segment")
    assert body["items"][0]["segment_index"] == 1
    assert body["total"] == 3 and body["total_relation"] == "eq"


def test_a_rare_word_weighs_more_than_a_common_one_once_statistics_are_worked_out(client, auth, app, runner):
    collector = user_id(client, auth("collector"))
    common = [(float(i), i + 1.0, f"老师第{i}次来上课。", "SPEAKER_1", False) for i in range(30)]
    make_transcript(app, collector, [*common,
                                     (40.0, 41.0, "老师说老师的老师也坐过渔船。", "SPEAKER_1", False),
                                     (41.0, 42.0, "老师家有渔船，渔船很旧了。", "SPEAKER_1", False)])
    editor = auth("editor")

    def order() -> list[int]:
        return [item["segment_index"] for item in search(client, editor, "老师 渔船", type="segment")["items"]]

    # never worked out: both words weigh alike, and three 老师 outweigh two 渔船
    assert order() == [30, 31]
    result = runner.invoke(args=["search", "statistics"])
    assert result.exit_code == 0 and "32 segment documents" in result.output, result.output
    # 渔船 is in 2 of 32 segments, 老师 in all: the segment saying 渔船 twice comes first
    assert order() == [31, 30]


def test_the_statistics_are_worked_out_nightly_and_by_a_reindex(client, auth, app, runner):
    make_transcript(app, user_id(client, auth("collector")), SEGMENTS)
    assert "refresh_search_statistics" in app.extensions["liufang_queue"].task_names
    with app.app_context():
        assert db.session.get(SearchStatistics, "segment") is None
        tasks.refresh_search_statistics()
        assert db.session.get(SearchStatistics, "segment").documents == len(SEGMENTS)
        assert db.session.get(SearchTermStatistics, ("segment", "厂")).documents == 2  # the 纺织厂 and its 织布机
        assert db.session.get(SearchTermStatistics, ("segment", "纺织")) is None  # in one segment: rare
    make_transcript(app, user_id(client, auth("collector")), SEGMENTS[:2])
    assert runner.invoke(args=["search", "reindex"]).exit_code == 0
    with app.app_context():
        assert db.session.get(SearchStatistics, "segment").documents == len(SEGMENTS) + 2


def test_a_saved_segment_is_found_by_the_next_request(client, auth, transcript):
    editor = auth("editor")
    assert search(client, editor, "渔船", type="segment")["total"] == 0
    url = f"/api/v1/transcripts/{transcript}"
    client.post(f"{url}/claim", headers=editor)
    response = client.patch(f"{url}/segments/1", json={"text": "小时候家里有一条渔船。"},
                            headers=if_match(client, url, editor))
    assert response.status_code == 200, response.get_json()
    assert texts(search(client, editor, "渔船", type="segment")) == ["小时候家里有一条渔船。"]
    assert search(client, editor, "打鱼", type="segment")["total"] == 0


def test_profiles_by_name_pinyin_initials_and_biography_never_personal_data(client, auth):
    archivist = auth("archivist")
    person = make_person(client, archivist, name="张三丰", aliases=["张君宝"], id_number=VALID_ID,
                         phone="13912345678", address="连云港市海棠路88号", biography="创立太极拳，一生行善。",
                         honours=[{"title": "武术名家", "year": 1990}], tags=["武术"], area={"district": "连云区"})
    for q in ("张三丰", "zhangsanfeng", "sanfeng", "zsf", "君宝", "太极", "武术名家", "連雲區"):
        body = search(client, archivist, q, type="person")
        assert [item["id"] for item in body["items"]] == [person["id"]], q
    assert search(client, archivist, "zsf", type="person")["items"][0]["highlight"] == "张三丰"
    assert search(client, archivist, "太极", type="person")["items"][0]["highlight"] == \
        "创立<mark>太极</mark>拳，一生行善。"
    for secret in ("13912345678", "5678", "海棠路", VALID_ID[:6]):
        assert search(client, archivist, secret)["total"] == 0, secret


def test_facets_count_types_categories_and_areas(client, auth, app):
    archivist = auth("archivist")
    person = make_person(client, archivist, name="李纺织", category="notable", occupation="纺织工",
                         area={"district": "海州区"})
    make_person(client, archivist, name="赵四", biography="在纺织厂工作。", area={"district": "连云区"})
    material_id = db_material_for(app, make_transcript(app, user_id(client, auth("collector")), SEGMENTS))
    client.post(f"/api/v1/materials/{material_id}/persons", json={"person_id": person["id"], "role": "interviewee"},
                headers=archivist)
    body = search(client, archivist, "纺织")
    assert body["facets"]["type"] == {"person": 2, "segment": 1}
    assert body["facets"]["category"] == {"good_person": 1, "notable": 2}
    assert body["facets"]["area"] == {"海州区": 2, "连云区": 1}
    filtered = search(client, archivist, "纺织", category="notable")
    assert {(i["type"], i["id"]) for i in filtered["items"]} == {("person", person["id"]),
                                                                  ("segment", filtered["items"][-1]["id"])}
    assert filtered["total"] == 2
    assert search(client, archivist, "纺织", area="连云区")["total"] == 1


def db_material_for(app: Any, transcript_id: int) -> int:
    from backend.models import Transcript

    with app.app_context():
        return db.session.get(Transcript, transcript_id).material_id


def test_collectors_see_their_own_drafts_and_published_profiles_only(client, auth, users):
    own = make_person(client, auth("collector"), name="甲草稿", biography="灯塔守护人。")
    other = make_person(client, auth("other_collector"), name="乙草稿", biography="灯塔守护人。")
    published = make_person(client, auth("archivist"), name="丙已发布", biography="灯塔守护人。")
    advance(client, published["id"], auth("archivist"), "submit", "approve", "publish")
    mine = search(client, auth("collector"), "灯塔")
    assert {item["id"] for item in mine["items"]} == {own["id"], published["id"]}
    assert mine["total"] == 2 and mine["facets"]["type"] == {"person": 2}
    assert {item["id"] for item in search(client, auth("editor"), "灯塔")["items"]} == \
        {own["id"], other["id"], published["id"]}
    assert search(client, auth("collector"), "乙草稿")["total"] == 0


def test_a_role_change_takes_effect_on_the_next_search(client, auth, users):
    """The visibility conditions are built once per caller and reused: a new role must not find the old ones."""
    other = make_person(client, auth("other_collector"), name="丁草稿", biography="守夜的更夫。")
    assert search(client, auth("collector"), "更夫")["total"] == 0
    response = client.patch(f"/api/v1/users/{users['collector']}", json={"roles": ["collector", "editor"]},
                            headers=auth("admin"))
    assert response.status_code == 200
    login = client.post("/api/v1/auth/login", json={"username": "collector", "password": PASSWORD})
    fresh = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    assert [item["id"] for item in search(client, fresh, "更夫")["items"]] == [other["id"]]
    assert search(client, auth("other_collector"), "更夫")["total"] == 1  # the author, as before


def test_restricted_materials_and_their_transcripts_only_for_roles_that_may_see_them(client, auth, app):
    collector = user_id(client, auth("collector"))
    restricted = make_transcript(app, collector, [(0.0, 1.0, "限制资料里的秘密谈话", "SPEAKER_1", False)],
                                 title="限制的录音")
    opened = make_transcript(app, collector, [(0.0, 1.0, "公开资料里的谈话", "SPEAKER_1", False)],
                             title="公开的录音", access_level="open")
    other = auth("other_collector")
    found = search(client, other, "谈话")
    assert {item["transcript_id"] for item in found["items"] if item["type"] == "segment"} == {opened}
    assert found["total"] == 1
    assert search(client, other, "录音")["total"] == 1
    assert search(client, auth("collector"), "谈话")["total"] == 2  # the uploader sees their own
    editor = search(client, auth("editor"), "谈话")
    assert {item["transcript_id"] for item in editor["items"]} == {restricted, opened}
    with app.app_context():
        db.session.get(Material, db_material_for(app, opened)).access_level = "closed"
        db.session.commit()
    assert search(client, other, "谈话")["total"] == 0


def test_bad_queries_are_422_and_anonymous_401(client, auth):
    assert_error(client.get("/api/v1/search", query_string={"q": "x"}), 401)
    editor = auth("editor")
    assert_error(client.get("/api/v1/search", headers=editor), 422)
    assert_error(client.get("/api/v1/search", query_string={"q": "-只排除"}, headers=editor), 422, "invalid_query")
    assert_error(client.get("/api/v1/search", query_string={"q": "，。"}, headers=editor), 422, "invalid_query")
    assert_error(client.get("/api/v1/search", query_string={"q": "x", "type": "user"}, headers=editor), 422)


def test_interviews_deleted_profiles_and_reindex(client, auth, runner, app):
    editor, collector = auth("editor"), auth("collector")
    interview = client.post("/api/v1/interviews", json={"title": "盐场往事", "place": "灌云县", "notes": "谈晒盐"},
                            headers=collector).get_json()
    assert [i["id"] for i in search(client, collector, "晒盐")["items"]] == [interview["id"]]
    assert search(client, collector, "灌云", type="interview")["items"][0]["url"] == \
        f"/api/v1/interviews/{interview['id']}"
    assert search(client, auth("other_collector"), "盐场")["total"] == 0  # another collector's interview
    person = make_person(client, collector, name="钱盐工")
    assert search(client, editor, "盐工")["total"] == 1
    assert client.delete(f"/api/v1/persons/{person['id']}", headers=collector).status_code == 204
    assert search(client, editor, "盐工")["total"] == 0
    # the index rebuilt from scratch answers the same
    before = search(client, editor, "盐")
    with app.app_context():
        db.session.execute(db.text("DELETE FROM search_documents"))
        db.session.commit()
    assert search(client, editor, "盐")["total"] == 0
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0 and "indexed" in result.output, result.output
    assert search(client, editor, "盐") == before


def test_postgresql_plans_each_search_with_its_own_words_and_compiles_nothing(app):
    """On PostgreSQL the app's connections keep statements unprepared (a plan made without the tsquery cannot
    tell a rare word from a common one) and JIT off (compiling cost a search on a large archive a fifth of its
    time); the join settings a search changes for its statement are put back after it."""
    with app.app_context():
        connection = db.session.connection()
        if connection.dialect.name != "postgresql":
            pytest.skip("PostgreSQL's connection settings")
        assert connection.connection.driver_connection.prepare_threshold is None
        assert db.session.scalar(db.text("SHOW jit")) == "off"
        joins = db.text("SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin')")
        search_service.search(None, q="纺织厂 织布")
        assert db.session.execute(joins).one() == ("on", "on")
        search_engine = search_index.engine(connection)
        with search_engine.planning(connection):  # once for every type of a search, a type's statements in it
            assert db.session.execute(joins).one() == ("off", "off")
            search_engine.candidates(connection, "segment", parse("织布"), [], 10)
            assert db.session.execute(joins).one() == ("off", "off")
        assert db.session.execute(joins).one() == ("on", "on")
        search_engine.candidates(connection, "person", parse("织布"), [], 10)  # on its own: its own planning
        assert db.session.execute(joins).one() == ("on", "on")
        db.session.rollback()
