"""Collection projects (采集项目): the DA/T 59 plan fields, who sees and manages a project, status steps with
If-Match and audit, filing interviews and materials into a project, and public projects with their published
content only."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import advance, assert_error, if_match, make_person, upload_png
from tests.sync.phone import Phone
from tests.uploads.conftest import encode_metadata, make_pdf, sha256_hex

pytestmark = pytest.mark.both_databases  # JSON lists, dates, filters by sub-select on each engine

PLAN = {"title": "连云港保卫战口述史", "content": "采访亲历者与后代，征集书信、照片", "background": "1939年至1945年连云港军民抗战",
        "planned_start": "2026-03-01", "planned_end": "2026-10-31", "place": "连云区、海州区",
        "methods": ["audio", "video", "photo"], "budget": "5万元（市档案馆专项）", "equipment": "录音笔2支、摄像机1台"}


def user_id(client: Any, auth: Any, role: str) -> int:
    return client.get("/api/v1/auth/me", headers=auth(role)).get_json()["id"]


def make_project(client: Any, auth: Any, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/projects", json={**PLAN, **fields}, headers=auth("archivist"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_archivist_plans_a_project_with_the_dat59_fields(client, auth):
    narrator = make_person(client, auth("collector"), name="王老兵")
    collector = user_id(client, auth, "collector")
    project = make_project(client, auth, person_ids=[narrator["id"]], collector_ids=[collector])
    for key, value in PLAN.items():
        assert project[key] == value, key
    assert project["person_ids"] == [narrator["id"]] and project["collector_ids"] == [collector]
    assert project["status"] == "planned" and project["is_public"] is False
    assert project["interviews"] == 0 and project["materials"] == 0
    got = client.get(f"/api/v1/projects/{project['id']}", headers=auth("editor"))
    assert got.headers["ETag"] == f'"{project["version"]}"' and got.get_json()["title"] == PLAN["title"]

    for role in ("collector", "editor"):
        assert_error(client.post("/api/v1/projects", json=PLAN, headers=auth(role)), 403)
    assert_error(client.post("/api/v1/projects", json={**PLAN, "methods": ["smell"]}, headers=auth("archivist")), 422)
    assert_error(client.post("/api/v1/projects", json={**PLAN, "planned_end": "2026-01-01"},
                             headers=auth("archivist")), 422, "invalid_project")
    assert_error(client.post("/api/v1/projects", json={**PLAN, "collector_ids": [999999]},
                             headers=auth("archivist")), 422, "unknown_user")
    assert_error(client.post("/api/v1/projects", json={**PLAN, "status": "closed"}, headers=auth("archivist")), 422)


def test_collectors_see_only_the_projects_they_are_assigned_to(client, auth):
    mine = make_project(client, auth, title="青口十八勇士", collector_ids=[user_id(client, auth, "collector")])
    other = make_project(client, auth, title="渔村记忆")
    listed = client.get("/api/v1/projects", headers=auth("collector")).get_json()
    assert [p["id"] for p in listed["items"]] == [mine["id"]] and listed["total"] == 1
    assert_error(client.get(f"/api/v1/projects/{other['id']}", headers=auth("collector")), 404, "project_not_found")
    assert client.get(f"/api/v1/projects/{mine['id']}", headers=auth("collector")).status_code == 200
    assert client.get("/api/v1/projects", headers=auth("editor")).get_json()["total"] == 2
    assert client.get("/api/v1/projects?q=勇士", headers=auth("editor")).get_json()["total"] == 1
    assert client.get("/api/v1/projects", headers=auth("other_collector")).get_json()["total"] == 0
    # collectors do not manage projects, not even their own
    url = f"/api/v1/projects/{mine['id']}"
    assert_error(client.patch(url, json={"place": "赣榆"}, headers=if_match(client, url, auth("collector"))), 403)


def test_status_moves_planned_collecting_closed_under_if_match_and_is_audited(client, auth):
    project = make_project(client, auth)
    url = f"/api/v1/projects/{project['id']}"
    assert_error(client.patch(url, json={"status": "collecting"}, headers=auth("archivist")), 428)
    assert_error(client.patch(url, json={"status": "collecting"}, headers={**auth("archivist"), "If-Match": '"99"'}),
                 412)
    assert_error(client.patch(url, json={"status": "closed"}, headers=if_match(client, url, auth("archivist"))),
                 409, "invalid_transition")
    started = client.patch(url, json={"status": "collecting", "place": "连云港市"},
                           headers=if_match(client, url, auth("archivist")))
    assert started.status_code == 200, started.get_json()
    assert started.get_json()["status"] == "collecting" and started.get_json()["started_at"]
    assert started.get_json()["version"] == project["version"] + 1
    assert_error(client.patch(url, json={"status": "planned"}, headers=if_match(client, url, auth("archivist"))), 409)
    closed = client.patch(url, json={"status": "closed"}, headers=if_match(client, url, auth("archivist")))
    assert closed.get_json()["status"] == "closed" and closed.get_json()["closed_at"]
    assert_error(client.patch(url, json={"status": "collecting"}, headers=if_match(client, url, auth("archivist"))),
                 409)
    events = client.get(f"/api/v1/audit?entity_type=project&entity_id={project['id']}",
                        headers=auth("archivist")).get_json()["items"]
    assert [e["action"] for e in reversed(events)] == ["create", "update", "start", "close"]
    assert events[0]["changes"]["status"] == {"before": "collecting", "after": "closed"}


def test_interviews_and_materials_are_filed_into_a_project_and_filtered_by_it(client, auth):
    collector = user_id(client, auth, "collector")
    project = make_project(client, auth, collector_ids=[collector])
    elsewhere = make_project(client, auth, title="别的项目")
    interview = client.post("/api/v1/interviews", json={"title": "王老兵访谈", "project_id": project["id"]},
                            headers=auth("collector"))
    assert interview.status_code == 201 and interview.get_json()["project_id"] == project["id"]
    interview = interview.get_json()
    # a project the collector is not assigned to is no project to them
    assert_error(client.post("/api/v1/interviews", json={"title": "x", "project_id": elsewhere["id"]},
                             headers=auth("collector")), 422, "unknown_project")
    # a recording of the interview belongs to its project; a photo is filed by the form field
    recording = upload_png(client, auth("collector"), 1, interview_id=str(interview["id"]))
    photo = upload_png(client, auth("collector"), 2, project_id=str(project["id"]))
    loose = upload_png(client, auth("collector"), 3)
    assert recording["project_id"] == project["id"] and photo["project_id"] == project["id"]
    assert loose["project_id"] is None
    # and by PATCH
    url = f"/api/v1/materials/{loose['id']}"
    moved = client.patch(url, json={"project_id": project["id"]}, headers=if_match(client, url, auth("collector")))
    assert moved.status_code == 200 and moved.get_json()["project_id"] == project["id"]

    materials = client.get(f"/api/v1/materials?project_id={project['id']}", headers=auth("collector")).get_json()
    assert sorted(m["id"] for m in materials["items"]) == sorted([recording["id"], photo["id"], loose["id"]])
    interviews = client.get(f"/api/v1/interviews?project_id={project['id']}", headers=auth("editor")).get_json()
    assert [i["id"] for i in interviews["items"]] == [interview["id"]]
    assert client.get(f"/api/v1/materials?project_id={elsewhere['id']}", headers=auth("collector")
                      ).get_json()["total"] == 0
    counted = client.get(f"/api/v1/projects/{project['id']}", headers=auth("collector")).get_json()
    assert counted["interviews"] == 1 and counted["materials"] == 3

    # once closed, only archivists file into it
    purl = f"/api/v1/projects/{project['id']}"
    for step in ("collecting", "closed"):
        client.patch(purl, json={"status": step}, headers=if_match(client, purl, auth("archivist")))
    assert_error(client.post("/api/v1/interviews", json={"title": "补访", "project_id": project["id"]},
                             headers=auth("collector")), 403, "project_closed")
    late = upload_png(client, auth("collector"), 4)
    lurl = f"/api/v1/materials/{late['id']}"
    assert_error(client.patch(lurl, json={"project_id": project["id"]}, headers=if_match(client, lurl, auth("collector"))),
                 403, "project_closed")
    assert client.patch(lurl, json={"project_id": project["id"]},
                        headers=if_match(client, lurl, auth("archivist"))).status_code == 200


def test_a_public_project_shows_only_its_published_content(client, auth):
    published = make_person(client, auth("collector"), name="李英雄")
    draft = make_person(client, auth("collector"), name="未发布的人")
    project = make_project(client, auth, title="青口十八勇士", person_ids=[published["id"], draft["id"]],
                           collector_ids=[user_id(client, auth, "collector")])
    url = f"/api/v1/projects/{project['id']}"
    assert client.get("/api/public/projects").get_json()["total"] == 0
    assert_error(client.get(f"/api/public/projects/{project['id']}"), 404, "project_not_found")

    advance(client, published["id"], auth("collector"), "submit")
    advance(client, published["id"], auth("archivist"), "approve", "publish")
    shown = upload_png(client, auth("collector"), 7, person_id=str(published["id"]), project_id=str(project["id"]),
                       title="烈士证书")
    hidden = upload_png(client, auth("collector"), 8, person_id=str(published["id"]), project_id=str(project["id"]),
                        title="未开放的信")
    murl = f"/api/v1/materials/{shown['id']}"
    assert client.patch(murl, json={"access_level": "open"},
                        headers=if_match(client, murl, auth("archivist"))).status_code == 200
    assert client.patch(url, json={"is_public": True}, headers=if_match(client, url, auth("archivist"))).status_code == 200

    listed = client.get("/api/public/projects").get_json()
    assert [p["id"] for p in listed["items"]] == [project["id"]]
    public = client.get(f"/api/public/projects/{project['id']}").get_json()
    assert public["title"] == "青口十八勇士" and public["background"] == PLAN["background"]
    assert [p["id"] for p in public["persons"]] == [published["id"]], "a draft narrator is not public"
    assert [m["id"] for m in public["materials"]] == [shown["id"]], "a restricted material is not public"
    for private in ("budget", "equipment", "collector_ids", "person_ids", "created_by"):
        assert private not in public
    assert hidden["id"] != shown["id"]

    # withdrawing the profile takes it and its materials off the public project at once
    advance(client, published["id"], auth("archivist"), "withdraw")
    after = client.get(f"/api/public/projects/{project['id']}").get_json()
    assert after["persons"] == [] and after["materials"] == []


def test_a_collectors_phone_syncs_the_projects_they_are_assigned_to(client, auth):
    phone = Phone(client, auth("collector"))
    collector = user_id(client, auth, "collector")
    project = make_project(client, auth, collector_ids=[collector])
    make_project(client, auth, title="别人的项目")
    photo = upload_png(client, auth("collector"), 21, project_id=str(project["id"]))
    phone.sync()
    assert list(phone.of_type("project")) == [project["id"]]
    stored = phone.of_type("project")[project["id"]]
    assert stored == client.get(f"/api/v1/projects/{project['id']}", headers=auth("collector")).get_json()
    assert phone.of_type("material")[photo["id"]]["project_id"] == project["id"]

    url = f"/api/v1/projects/{project['id']}"
    client.patch(url, json={"place": "连岛"}, headers=if_match(client, url, auth("archivist")))
    assert [c["data"]["place"] for c in phone.sync() if c["type"] == "project"] == ["连岛"]
    # taken off the project: the phone drops it, and its material no longer names it
    client.patch(url, json={"collector_ids": []}, headers=if_match(client, url, auth("archivist")))
    changes = phone.sync()
    assert {"type": "project", "id": project["id"], "op": "delete"} in changes
    assert phone.of_type("project") == {}
    assert phone.of_type("material")[photo["id"]]["project_id"] is None


def test_a_resumable_upload_is_filed_into_a_project_by_its_metadata(client, auth):
    project = make_project(client, auth, collector_ids=[user_id(client, auth, "collector")])
    elsewhere = make_project(client, auth, title="别的项目")
    data = make_pdf(3000, seed=5)

    def create(project_id: int) -> Any:
        return client.post("/api/v1/uploads", headers={
            **auth("collector"), "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)),
            "Upload-Metadata": encode_metadata(filename="手写回忆录.pdf", sha256=sha256_hex(data),
                                               project_id=project_id)})

    assert_error(create(elsewhere["id"]), 422, "unknown_project")
    created = create(project["id"])
    assert created.status_code == 201, created.get_json()
    location = created.headers["Location"]
    sent = client.patch(location, data=data, headers={**auth("collector"), "Tus-Resumable": "1.0.0",
                                                      "Upload-Offset": "0",
                                                      "Content-Type": "application/offset+octet-stream"})
    assert sent.status_code == 204, sent.get_data(as_text=True)
    materials = client.get(f"/api/v1/materials?project_id={project['id']}", headers=auth("collector")).get_json()
    assert [m["original_filename"] for m in materials["items"]] == ["手写回忆录.pdf"]
