"""`?format=eac-cpf` and `?format=dc` on the public and the staff GETs: valid XML for those who may see the record,
the same 404 as JSON for those who may not, and never personal data."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from backend.services import crosswalks
from tests.api.helpers import assert_error, if_match, make_person
from tests.interop.conftest import SECRETS

NS = {"e": crosswalks.EAC_NS, "dc": crosswalks.DC_NS}


def _xml(response: Any, schemas: Any, schema: str) -> etree._Element:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == "application/xml; charset=utf-8"
    body = response.get_data()
    for secret in SECRETS.values():
        assert secret.encode() not in body
    return schemas.validate(body, schema)


@pytest.fixture
def interview(client, auth, rich_person) -> dict[str, Any]:
    created = client.post("/api/v1/interviews", headers=auth("archivist"), json={
        "title": "灯塔往事", "date": "2024-05-01", "interviewers": ["王采访"], "language": "zh",
        "interviewee_ids": [rich_person["id"]]}).get_json()
    url = f"/api/v1/materials/{rich_person['photo_id']}"
    response = client.patch(url, json={"interview_id": created["id"]}, headers=if_match(client, url,
                                                                                       auth("archivist")))
    assert response.status_code == 200, response.get_json()
    return created


def test_public_person_as_eac_cpf_and_dc(client, rich_person, schemas, app):
    app.config.update(PUBLIC_RATE_LIMIT="off")
    person_id = rich_person["id"]
    root = _xml(client.get(f"/api/public/persons/{person_id}?format=eac-cpf"), schemas, "cpf.xsd")
    assert root.findtext("e:cpfDescription/e:identity/e:nameEntryParallel/e:nameEntry/e:part", namespaces=NS) \
        == "林海生"
    assert "内部录音整理稿" not in etree.tostring(root, encoding="unicode")
    dc = _xml(client.get(f"/api/public/persons/{person_id}?format=dc"), schemas, "oai_dc.xsd")
    assert dc.findtext("dc:title", namespaces=NS) == "林海生"
    assert client.get(f"/api/public/persons/{person_id}").get_json()["name"] == "林海生"  # JSON stays the default
    assert_error(client.get(f"/api/public/persons/{person_id}?format=marc"), 422)


def test_public_xml_of_what_is_not_public_is_a_404(client, auth, rich_person, app):
    app.config.update(PUBLIC_RATE_LIMIT="off")
    draft = make_person(client, auth("collector"), name="草稿人")
    assert_error(client.get(f"/api/public/persons/{draft['id']}?format=eac-cpf"), 404, "person_not_found")
    hidden = rich_person["hidden_material_id"]
    assert_error(client.get(f"/api/public/materials/{hidden}?format=dc"), 404, "material_not_found")
    assert_error(client.get(f"/api/public/materials/{hidden}"), 404, "material_not_found")
    lonely = client.post("/api/v1/interviews", headers=auth("archivist"), json={"title": "无公开资料"}).get_json()
    assert_error(client.get(f"/api/public/interviews/{lonely['id']}?format=dc"), 404, "interview_not_found")


def test_public_material_and_interview(client, auth, rich_person, interview, schemas, app):
    app.config.update(PUBLIC_RATE_LIMIT="off")
    photo = rich_person["photo_id"]
    material = client.get(f"/api/public/materials/{photo}").get_json()
    assert material["title"] == "近照" and material["kind"] == "image"
    assert [person["name"] for person in material["persons"]] == ["林海生"]
    assert material["interview"]["id"] == interview["id"]
    dc = _xml(client.get(f"/api/public/materials/{photo}?format=dc"), schemas, "oai_dc.xsd")
    assert dc.findtext("dc:type", namespaces=NS) == "StillImage"

    shown = client.get(f"/api/public/interviews/{interview['id']}").get_json()
    assert shown["title"] == "灯塔往事" and [m["id"] for m in shown["materials"]] == [photo]
    assert [person["name"] for person in shown["interviewees"]] == ["林海生"]
    assert "interviewers" not in shown
    dc = _xml(client.get(f"/api/public/interviews/{interview['id']}?format=dc"), schemas, "oai_dc.xsd")
    assert dc.findtext("dc:creator", namespaces=NS) == "林海生"
    assert "王采访" not in etree.tostring(dc, encoding="unicode")

    # withdrawing the profile takes the interview and the material off the public archive at once
    url = f"/api/v1/persons/{rich_person['id']}/withdraw"
    response = client.post(url, headers=if_match(client, f"/api/v1/persons/{rich_person['id']}",
                                                 auth("archivist")))
    assert response.status_code == 200, response.get_json()
    assert_error(client.get(f"/api/public/interviews/{interview['id']}?format=dc"), 404, "interview_not_found")
    assert_error(client.get(f"/api/public/materials/{photo}?format=dc"), 404, "material_not_found")


def test_staff_formats_follow_what_the_caller_may_see(client, auth, rich_person, interview, schemas):
    person_id = rich_person["id"]
    draft = make_person(client, auth("collector"), name="草稿人")
    for role in ("archivist", "editor"):
        root = _xml(client.get(f"/api/v1/persons/{draft['id']}?format=eac-cpf", headers=auth(role)), schemas,
                    "cpf.xsd")
        assert root.findtext("e:control/e:publicationStatus", namespaces=NS) == "inProcess"
    assert_error(client.get(f"/api/v1/persons/{draft['id']}?format=eac-cpf", headers=auth("other_collector")),
                 404, "person_not_found")
    assert_error(client.get(f"/api/v1/persons/{draft['id']}?format=eac-cpf"), 401)
    _xml(client.get(f"/api/v1/persons/{draft['id']}?format=eac-cpf", headers=auth("collector")), schemas, "cpf.xsd")

    archivist = _xml(client.get(f"/api/v1/persons/{person_id}?format=eac-cpf", headers=auth("archivist")),
                     schemas, "cpf.xsd")
    collector = _xml(client.get(f"/api/v1/persons/{person_id}?format=eac-cpf", headers=auth("other_collector")),
                     schemas, "cpf.xsd")
    assert "内部录音整理稿" in etree.tostring(archivist, encoding="unicode")
    assert "内部录音整理稿" not in etree.tostring(collector, encoding="unicode")
    _xml(client.get(f"/api/v1/persons/{person_id}?format=dc", headers=auth("editor")), schemas, "oai_dc.xsd")

    hidden = rich_person["hidden_material_id"]
    dc = _xml(client.get(f"/api/v1/materials/{hidden}?format=dc", headers=auth("editor")), schemas, "oai_dc.xsd")
    assert dc.findtext("dc:title", namespaces=NS) == "内部录音整理稿"
    assert_error(client.get(f"/api/v1/materials/{hidden}?format=dc", headers=auth("other_collector")), 404,
                 "material_not_found")
    dc = _xml(client.get(f"/api/v1/interviews/{interview['id']}?format=dc", headers=auth("archivist")), schemas,
              "oai_dc.xsd")
    assert "王采访（采访者）" in [node.text for node in dc.findall("dc:contributor", NS)]
    assert_error(client.get(f"/api/v1/interviews/{interview['id']}?format=dc", headers=auth("other_collector")),
                 404, "interview_not_found")
    assert client.get(f"/api/v1/materials/{hidden}", headers=auth("editor")).get_json()["id"] == hidden
    assert_error(client.get(f"/api/v1/materials/{hidden}?format=mets", headers=auth("editor")), 422)
