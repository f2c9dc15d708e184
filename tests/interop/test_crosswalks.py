"""The crosswalks: a person's EAC-CPF and a material's or interview's Dublin Core are valid against the official
schemas, carry what an archivist would look for, and never carry personal data or what the audience may not see."""

from __future__ import annotations

import pytest
from lxml import etree

from backend.extensions import db
from backend.models import Interview, Material, Person, User
from backend.services import crosswalks
from tests.interop.conftest import SECRETS

NS = {"e": crosswalks.EAC_NS, "dc": crosswalks.DC_NS, "oai_dc": crosswalks.OAI_DC_NS,
      "xlink": crosswalks.XLINK_NS}


def texts(element: etree._Element, path: str) -> list[str]:
    return [node.text or "" for node in element.xpath(path, namespaces=NS)]


def test_eac_cpf_of_a_published_person_is_valid_and_complete(app, client, auth, rich_person, schemas):
    app.config.update(ARCHIVE_NAME="连云港市档案馆", ARCHIVE_CODE="CN-320700")
    with app.test_request_context(base_url="https://archive.example.org/"):
        app.preprocess_request()  # the request hooks note the host asked, as for a real request
        person = db.session.get(Person, rich_person["id"])
        document = crosswalks.eac_cpf_document(person, audience="public")
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = schemas.validate(document, "cpf.xsd")
    assert root.tag == f"{{{crosswalks.EAC_NS}}}eac-cpf"

    assert texts(root, "e:control/e:maintenanceAgency/e:agencyName") == ["连云港市档案馆"]
    assert texts(root, "e:control/e:maintenanceAgency/e:agencyCode") == ["CN-320700"]
    assert texts(root, "e:control/e:publicationStatus") == ["approved"]
    identity = root.find("e:cpfDescription/e:identity", NS)
    assert texts(identity, "e:entityType") == ["person"]
    assert texts(identity, "e:nameEntryParallel/e:nameEntry/e:part") == ["林海生", "Lin Hai Sheng"]
    assert identity.find("e:nameEntryParallel/e:nameEntry[@transliteration='pinyin']", NS) is not None
    assert texts(identity, "e:nameEntry/e:part") == ["林老", "灯塔爷爷"]
    description = root.find("e:cpfDescription/e:description", NS)
    assert description.find("e:existDates/e:dateRange/e:fromDate", NS).get("standardDate") == "1938-05-02"
    assert texts(description, "e:existDates/e:dateRange/e:fromDate") == ["1938年5月2日"]
    assert description.find("e:existDates/e:dateRange/e:toDate", NS).get("standardDate") == "2020"
    assert texts(description, "e:places/e:place[e:placeRole='籍贯']/e:placeEntry") == ["江苏赣榆"]
    assert texts(description, "e:places/e:place[e:placeRole='所在地']/e:placeEntry") == ["连云区 连岛街道"]
    terms = {node.get("localType").rsplit("/", 1)[-1]: node.findtext("e:term", namespaces=NS)
             for node in description.findall("e:localDescriptions/e:localDescription", NS)
             if not node.get("localType").endswith("/tag")}
    assert terms == {"category": "乡贤", "gender": "男", "ethnicity": "汉族"}
    assert texts(description, "e:localDescriptions/e:localDescription[contains(@localType, '/tag')]/e:term") \
        == ["海岛", "灯塔"]
    assert texts(description, "e:occupations/e:occupation/e:term") == ["灯塔看守人"]
    assert texts(description, "e:biogHist/e:p") == ["五十年守护海岛灯塔。", "退休后义务讲述海岛历史。"]
    assert texts(description, "e:biogHist/e:chronList/e:chronItem/e:event") == ["中国好人（中央文明办授予）"]
    assert description.find("e:biogHist/e:chronList/e:chronItem/e:date", NS).get("standardDate") == "2019"
    assert texts(description, "e:biogHist/e:list/e:item") == ["感动港城人物"]

    # the public photo is a related resource, at its public URL; the restricted transcript is not there
    relations = root.findall("e:cpfDescription/e:relations/e:resourceRelation", NS)
    assert [relation.get(f"{{{crosswalks.XLINK_NS}}}href") for relation in relations] == [
        f"https://archive.example.org/api/public/materials/{rich_person['photo_id']}"]
    assert "内部录音整理稿" not in document.decode()

    # the maintenance history comes from the audit trail: created, approved, published, by the archive itself
    history = root.findall("e:control/e:maintenanceHistory/e:maintenanceEvent", NS)
    assert [event.findtext("e:eventDescription", namespaces=NS) for event in history] == ["建档", "审核通过", "发布"]
    assert [event.findtext("e:eventType", namespaces=NS) for event in history] == ["created", "revised", "revised"]
    assert {event.findtext("e:agent", namespaces=NS) for event in history} == {"连云港市档案馆"}
    assert texts(root, "e:control/e:maintenanceStatus") == ["revised"]
    text = document.decode()
    for secret in SECRETS.values():
        assert secret not in text
    assert "collector" not in text and "archivist" not in text


def test_staff_eac_cpf_names_the_staff_and_the_records_the_caller_may_see(app, client, auth, rich_person,
                                                                          schemas, users):
    with app.test_request_context():
        person = db.session.get(Person, rich_person["id"])
        archivist = db.session.get(User, users["archivist"])
        collector = db.session.get(User, users["other_collector"])
        for_archivist = crosswalks.eac_cpf_document(person, audience="staff", actor=archivist)
        for_collector = crosswalks.eac_cpf_document(person, audience="staff", actor=collector)
        for_export = crosswalks.eac_cpf_element(person, audience="staff")
    root = schemas.validate(for_archivist, "cpf.xsd")
    schemas.validate(for_collector, "cpf.xsd")
    schemas.validate(for_export, "cpf.xsd")
    history = root.findall("e:control/e:maintenanceHistory/e:maintenanceEvent", NS)
    assert [(event.findtext("e:eventDescription", namespaces=NS), event.findtext("e:agent", namespaces=NS))
            for event in history] == [("建档", "collector"), ("提交审核", "archivist"), ("审核通过", "archivist"),
                                      ("发布", "archivist")]
    assert "内部录音整理稿" in for_archivist.decode()
    assert "内部录音整理稿" not in for_collector.decode()  # a restricted material of someone else
    assert "内部录音整理稿" in etree.tostring(for_export, encoding="unicode")
    for secret in SECRETS.values():
        assert secret not in for_archivist.decode()


def test_an_unapproved_draft_is_in_process_and_odd_dates_stay_text(app, client, auth, schemas):
    from tests.api.helpers import make_person

    person = make_person(client, auth("collector"), name="草稿人", aliases=[], honours=[], biography="")
    with app.test_request_context():
        row = db.session.get(Person, person["id"])
        row.birth_date = "1938年"  # the API refuses it; older rows may hold such text
        document = crosswalks.eac_cpf_document(row, audience="staff")
        db.session.rollback()
    root = schemas.validate(document, "cpf.xsd")
    assert texts(root, "e:control/e:publicationStatus") == ["inProcess"]
    assert texts(root, "e:control/e:maintenanceStatus") == ["new"]
    from_date = root.find("e:cpfDescription/e:description/e:existDates/e:dateRange/e:fromDate", NS)
    assert from_date.text == "1938年" and from_date.get("standardDate") is None


def test_dublin_core_of_a_material_and_an_interview(app, client, auth, rich_person, schemas, users):
    interview = client.post("/api/v1/interviews", headers=auth("archivist"), json={
        "title": "灯塔往事", "date": "2024-05-01", "place": "连岛灯塔", "interviewers": ["王采访"],
        "language": "zh", "notes": "内部备注：第二次补访", "interviewee_ids": [rich_person["id"]]}).get_json()
    assert "id" in interview, interview
    url = f"/api/v1/materials/{rich_person['photo_id']}"
    from tests.api.helpers import if_match
    response = client.patch(url, json={"interview_id": interview["id"], "description": "灯塔前的合影"},
                            headers=if_match(client, url, auth("archivist")))
    assert response.status_code == 200, response.get_json()
    with app.test_request_context(base_url="https://archive.example.org/"):
        app.preprocess_request()  # the request hooks note the host asked, as for a real request
        material = db.session.get(Material, rich_person["photo_id"])
        interview_row = db.session.get(Interview, interview["id"])
        public_material = crosswalks.dublin_core_element(material, audience="public")
        staff_material = crosswalks.dublin_core_element(material, audience="staff")
        public_interview = crosswalks.dublin_core_element(interview_row, audience="public")
        staff_interview = crosswalks.dublin_core_element(interview_row, audience="staff",
                                                         actor=db.session.get(User, users["archivist"]))
        person_dc = crosswalks.person_dublin_core_element(db.session.get(Person, rich_person["id"]),
                                                          audience="public")
        with pytest.raises(TypeError):
            crosswalks.dublin_core_element(db.session.get(Person, rich_person["id"]), audience="public")
        with pytest.raises(ValueError):
            crosswalks.dublin_core_element(material, audience="everyone")  # type: ignore[arg-type]
    for element in (public_material, staff_material, public_interview, staff_interview, person_dc):
        schemas.validate(element, "oai_dc.xsd")
        assert element.tag == f"{{{crosswalks.OAI_DC_NS}}}dc"

    assert texts(public_material, "dc:title") == ["近照"]
    assert texts(public_material, "dc:type") == ["StillImage", "图片"]
    assert texts(public_material, "dc:format") == ["image/png"]
    assert texts(public_material, "dc:description") == ["灯塔前的合影"]
    assert "乡贤" in texts(public_material, "dc:subject")
    assert f"https://archive.example.org/api/public/materials/{rich_person['photo_id']}" in \
        texts(public_material, "dc:identifier")
    assert f"https://archive.example.org/api/public/interviews/{interview['id']}" in \
        texts(public_material, "dc:relation")
    assert not any(value.startswith("urn:sha256:") for value in texts(public_material, "dc:identifier"))
    assert any(value.startswith("urn:sha256:") for value in texts(staff_material, "dc:identifier"))

    assert texts(public_interview, "dc:title") == ["灯塔往事"]
    assert texts(public_interview, "dc:creator") == ["林海生"]
    assert texts(public_interview, "dc:date") == ["2024-05-01"]
    assert texts(public_interview, "dc:language") == ["zh"]
    public_text = etree.tostring(public_interview, encoding="unicode")
    assert "王采访" not in public_text and "内部备注" not in public_text and "连岛灯塔" not in public_text
    assert "王采访（采访者）" in texts(staff_interview, "dc:contributor")
    assert texts(staff_interview, "dc:coverage") == ["连岛灯塔"]

    assert texts(person_dc, "dc:title")[:3] == ["林海生", "林老", "灯塔爷爷"]
    assert texts(person_dc, "dc:date") == ["1938-05-02/2020"]
    for element in (public_material, staff_material, public_interview, staff_interview, person_dc):
        text = etree.tostring(element, encoding="unicode")
        for secret in SECRETS.values():
            assert secret not in text


def test_text_xml_cannot_hold_is_left_out(app, client, auth, rich_person, schemas):
    with app.test_request_context():
        person = db.session.get(Person, rich_person["id"])
        person.biography = "旧数据\x01里的控制字符\ufffe"  # not saved: older rows may hold such text
        document = crosswalks.eac_cpf_document(person, audience="public")
        db.session.rollback()
    root = schemas.validate(document, "cpf.xsd")
    assert texts(root, "e:cpfDescription/e:description/e:biogHist/e:p") == ["旧数据里的控制字符"]
