"""The OAI-PMH provider at /oai as a harvester meets it: every verb and every error answers a valid OAI-PMH 2.0
document (OAI-PMH.xsd; bundle.xsd where records or descriptions are embedded), lists page with resumption tokens,
selective harvesting by datestamp and set, persistent deletions, and only what the public API shows."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from lxml import etree

from backend.services import crosswalks
from backend.services import oai as oai_service
from tests.api.helpers import if_match, make_person, upload_png
from tests.interop.conftest import SECRETS, published_person

pytestmark = pytest.mark.both_databases  # the ledger's queries and its lock

OAI = "http://www.openarchives.org/OAI/2.0/"
NS = {"o": OAI, "dc": crosswalks.DC_NS, "e": crosswalks.EAC_NS,
      "i": "http://www.openarchives.org/OAI/2.0/oai-identifier"}


class Harvester:
    """Sends OAI-PMH requests (GET, or POST as a form) and validates every answer before looking at it."""

    def __init__(self, client: Any, schemas: Any) -> None:
        self.client, self.schemas = client, schemas

    def __call__(self, method: str = "GET", **arguments: Any) -> etree._Element:
        if method == "POST":
            response = self.client.post("/oai", data=arguments)
        else:
            response = self.client.get("/oai", query_string=arguments)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.content_type == "text/xml; charset=utf-8"
        body = response.get_data()
        for secret in SECRETS.values():
            assert secret.encode() not in body
        root = etree.fromstring(body)
        has_payload = root.find("o:GetRecord", NS) is not None or root.find("o:ListRecords", NS) is not None \
            or root.find("o:Identify", NS) is not None
        self.schemas.validate(body, "OAI-PMH.xsd" if not has_payload else "bundle.xsd")
        assert root.tag == f"{{{OAI}}}OAI-PMH"
        return root

    def error(self, code: str, method: str = "GET", **arguments: Any) -> etree._Element:
        root = self(method, **arguments)
        errors = root.findall("o:error", NS)
        assert [error.get("code") for error in errors] == [code], etree.tostring(root, encoding="unicode")
        assert errors[0].text
        return root

    def harvest(self, verb: str, **arguments: Any) -> tuple[list[etree._Element], list[etree._Element]]:
        """Every item of a list, following resumption tokens; returns the items and the tokens seen."""
        items: list[etree._Element] = []
        tokens: list[etree._Element] = []
        root = self(verb=verb, **arguments)
        while True:
            listing = root.find(f"o:{verb}", NS)
            assert listing is not None, etree.tostring(root, encoding="unicode")
            items += listing.findall("o:record" if verb == "ListRecords" else "o:header", NS)
            token = listing.find("o:resumptionToken", NS)
            if token is None:
                return items, tokens
            tokens.append(token)
            if not token.text:
                return items, tokens
            root = self(verb=verb, resumptionToken=token.text)


@pytest.fixture
def harvester(client, schemas) -> Harvester:
    return Harvester(client, schemas)


@pytest.fixture
def archive(app, client, auth) -> dict[str, Any]:
    """Three public profiles (two 好人, one 名家) with public photos, and what must never reach a harvester."""
    app.config.update(PUBLIC_RATE_LIMIT="off", OAI_PAGE_SIZE=2, OAI_REPOSITORY_IDENTIFIER="archive.example.org")
    lin = published_person(client, auth, name="林海生", **SECRETS)
    wang = published_person(client, auth, name="王秀英")
    zhao = published_person(client, auth, name="赵文华", category="notable")
    draft = make_person(client, auth("collector"), name="草稿人")
    restricted = upload_png(client, auth("archivist"), lin["id"], 9, person_id=str(lin["id"]), title="内部照片")
    return {"lin": lin, "wang": wang, "zhao": zhao, "draft": draft, "restricted": restricted["id"]}


def ident(kind: str, entity_id: int) -> str:
    return f"oai:archive.example.org:{kind}/{entity_id}"


def identifiers(items: list[etree._Element]) -> list[str]:
    return [item.findtext(".//o:identifier", namespaces=NS) for item in items]


def test_identify_formats_and_sets(harvester, archive):
    root = harvester(verb="Identify")
    identify = root.find("o:Identify", NS)
    assert identify.findtext("o:baseURL", namespaces=NS) == "http://localhost/oai"
    assert identify.findtext("o:protocolVersion", namespaces=NS) == "2.0"
    assert identify.findtext("o:deletedRecord", namespaces=NS) == "persistent"
    assert identify.findtext("o:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    assert identify.findtext("o:adminEmail", namespaces=NS) == "oai-admin@archive.example.org"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", identify.findtext("o:earliestDatestamp", namespaces=NS))
    assert identify.findtext("o:description/i:oai-identifier/i:repositoryIdentifier", namespaces=NS) \
        == "archive.example.org"
    assert root.find("o:request", NS).attrib == {"verb": "Identify"}

    formats = harvester(verb="ListMetadataFormats").findall(".//o:metadataPrefix", NS)
    assert [node.text for node in formats] == ["oai_dc", "eac_cpf"]
    person = harvester(verb="ListMetadataFormats", identifier=ident("person", archive["lin"]["id"]))
    assert [node.text for node in person.findall(".//o:metadataPrefix", NS)] == ["oai_dc", "eac_cpf"]
    material = harvester(verb="ListMetadataFormats", identifier=ident("material", archive["lin"]["photo_id"]))
    assert [node.text for node in material.findall(".//o:metadataPrefix", NS)] == ["oai_dc"]

    sets = harvester(verb="ListSets").findall(".//o:set", NS)
    assert [(node.findtext("o:setSpec", namespaces=NS), node.findtext("o:setName", namespaces=NS))
            for node in sets] == [("category", "人物类别（三为三让）"), ("category:good_person", "好人"),
                                  ("category:notable", "名家"), ("category:local_worthy", "乡贤")]
    # POST is answered like GET
    assert harvester("POST", verb="Identify").find("o:Identify", NS) is not None


def test_lists_page_with_resumption_tokens_and_hold_only_public_records(harvester, archive):
    items, tokens = harvester.harvest("ListRecords", metadataPrefix="oai_dc")
    expected = {ident("person", archive[name]["id"]) for name in ("lin", "wang", "zhao")} | \
        {ident("material", archive[name]["photo_id"]) for name in ("lin", "wang", "zhao")}
    assert sorted(identifiers(items)) == sorted(expected)  # each once
    assert [(token.get("cursor"), token.get("completeListSize")) for token in tokens] == [
        ("0", "6"), ("2", "6"), ("4", "6")]
    assert [bool(token.text) for token in tokens] == [True, True, False]  # the last page has an empty token
    assert all(re.match(r"^\d{4}-.*Z$", token.get("expirationDate")) for token in tokens[:2])
    text = "".join(etree.tostring(item, encoding="unicode") for item in items)
    assert "草稿人" not in text and "内部照片" not in text and "授权书" not in text

    headers, _ = harvester.harvest("ListIdentifiers", metadataPrefix="oai_dc")
    assert sorted(identifiers(headers)) == sorted(expected)
    records, _ = harvester.harvest("ListRecords", metadataPrefix="eac_cpf")
    assert sorted(identifiers(records)) == sorted(ident("person", archive[name]["id"])
                                                  for name in ("lin", "wang", "zhao"))
    for record in records:
        harvester.schemas.validate(record.find("o:metadata/e:eac-cpf", NS), "cpf.xsd")

    good, _ = harvester.harvest("ListIdentifiers", metadataPrefix="oai_dc", set="category:good_person")
    assert sorted(identifiers(good)) == sorted(
        [ident("person", archive[name]["id"]) for name in ("lin", "wang")]
        + [ident("material", archive[name]["photo_id"]) for name in ("lin", "wang")])
    everything, _ = harvester.harvest("ListIdentifiers", metadataPrefix="oai_dc", set="category")
    assert len(everything) == 6
    harvester.error("noRecordsMatch", verb="ListRecords", metadataPrefix="oai_dc", set="category:local_worthy")

    record = harvester(verb="GetRecord", metadataPrefix="oai_dc", identifier=ident("material", archive["lin"]["photo_id"]))
    dc = record.find(".//o:metadata/{http://www.openarchives.org/OAI/2.0/oai_dc/}dc", NS)
    assert dc.findtext("dc:title", namespaces=NS) == "近照"
    assert dc.findtext("dc:subject", namespaces=NS) == "林海生"  # the person a photo shows is its subject


def test_every_error_is_a_valid_oai_pmh_answer(harvester, archive, clock, monkeypatch):
    for arguments in ({}, {"verb": "Harvest"}, {"verb": ["Identify", "Identify"]}):
        root = harvester.error("badVerb", **arguments)
        assert root.find("o:request", NS).attrib == {}  # no arguments echoed after badVerb
    for arguments in ({"verb": "Identify", "metadataPrefix": "oai_dc"},
                      {"verb": "ListRecords"},
                      {"verb": "ListRecords", "metadataPrefix": ["oai_dc", "oai_dc"]},
                      {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2026-13-01"},
                      {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2026-01-01T00:00:00+08:00"},
                      {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2026-01-01",
                       "until": "2026-02-01T00:00:00Z"},
                      {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2026-02-01", "until": "2026-01-01"},
                      {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "resumptionToken": "x"},
                      {"verb": "GetRecord", "identifier": ident("person", 1)},
                      {"verb": "ListSets", "set": "category"}):
        root = harvester.error("badArgument", **arguments)
        assert root.find("o:request", NS).attrib == {}
    harvester.error("badArgument", "POST", verb="ListRecords")

    harvester.error("cannotDisseminateFormat", verb="ListRecords", metadataPrefix="marc21")
    root = harvester.error("cannotDisseminateFormat", verb="GetRecord", metadataPrefix="eac_cpf",
                           identifier=ident("material", archive["lin"]["photo_id"]))
    assert root.find("o:request", NS).get("metadataPrefix") == "eac_cpf"  # other errors echo the request
    for missing in (ident("person", archive["draft"]["id"]), ident("material", archive["restricted"]),
                    ident("person", 999999), "oai:elsewhere.org:person/1", "not an identifier",
                    ident("transcript", 1)):
        harvester.error("idDoesNotExist", verb="GetRecord", metadataPrefix="oai_dc", identifier=missing)
        harvester.error("idDoesNotExist", verb="ListMetadataFormats", identifier=missing)
    harvester.error("noRecordsMatch", verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": "2999-01-01"})
    harvester.error("noRecordsMatch", verb="ListIdentifiers", metadataPrefix="oai_dc", until="2000-01-01")

    first = harvester(verb="ListIdentifiers", metadataPrefix="oai_dc").find(".//o:resumptionToken", NS).text
    harvester.error("badResumptionToken", verb="ListIdentifiers", resumptionToken="not-a-token")
    harvester.error("badResumptionToken", verb="ListIdentifiers", resumptionToken=first[:-2] + "xx")  # altered
    harvester.error("badResumptionToken", verb="ListRecords", resumptionToken=first)  # another verb's token
    harvester.error("badResumptionToken", verb="ListSets", resumptionToken=first)
    assert harvester(verb="ListIdentifiers", resumptionToken=first).find("o:ListIdentifiers", NS) is not None
    clock.advance(timedelta(hours=25))  # past LIUFANG_OAI_TOKEN_HOURS
    harvester.error("badResumptionToken", verb="ListIdentifiers", resumptionToken=first)

    # The two that this repository cannot produce (every item has oai_dc; the category sets always exist), had it
    # none: still valid answers.
    monkeypatch.setitem(oai_service.FORMATS_OF, "material", [])
    harvester.error("noMetadataFormats", verb="ListMetadataFormats",
                    identifier=ident("material", archive["lin"]["photo_id"]))
    monkeypatch.setattr(oai_service, "sets", lambda: [])
    harvester.error("noSetHierarchy", verb="ListSets")


def test_incremental_harvests_see_changes_and_persistent_deletions(app, client, auth, harvester, archive, clock):
    stamps = {item.findtext("o:identifier", namespaces=NS): item.findtext("o:datestamp", namespaces=NS)
              for item in harvester.harvest("ListIdentifiers", metadataPrefix="oai_dc")[0]}
    since = max(stamps.values())
    clock.advance(timedelta(seconds=5))

    # an internal edit (the phone, never public) changes nothing a harvester sees: no new datestamp
    lin_url = f"/api/v1/persons/{archive['lin']['id']}"
    assert client.patch(lin_url, json={"phone": "13700001111"},
                        headers=if_match(client, lin_url, auth("archivist"))).status_code == 200
    harvester.error("noRecordsMatch", verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": _later(since)})
    again = {item.findtext("o:identifier", namespaces=NS): item.findtext("o:datestamp", namespaces=NS)
             for item in harvester.harvest("ListIdentifiers", metadataPrefix="oai_dc")[0]}
    assert again == stamps

    # withdrawing 林海生 deletes his profile and his photo (only he made it public); 赵文华's biography changes
    response = client.post(f"{lin_url}/withdraw", headers=if_match(client, lin_url, auth("archivist")))
    assert response.status_code == 200, response.get_json()
    zhao_url = f"/api/v1/persons/{archive['zhao']['id']}"
    assert client.patch(zhao_url, json={"biography": "剪纸六十年，作品藏于市博物馆。"},
                        headers=if_match(client, zhao_url, auth("archivist"))).status_code == 200
    changed, _ = harvester.harvest("ListRecords", metadataPrefix="oai_dc", **{"from": _later(since)})
    by_id = {item.findtext("o:header/o:identifier", namespaces=NS): item for item in changed}
    lin, lin_photo = ident("person", archive["lin"]["id"]), ident("material", archive["lin"]["photo_id"])
    # (赵文华's photo does not carry her biography: it keeps its datestamp)
    assert set(by_id) == {lin, lin_photo, ident("person", archive["zhao"]["id"])}
    for deleted in (lin, lin_photo):
        assert by_id[deleted].find("o:header", NS).get("status") == "deleted"
        assert by_id[deleted].find("o:metadata", NS) is None
        assert by_id[deleted].findtext("o:header/o:setSpec", namespaces=NS) == "category:good_person"
        assert by_id[deleted].findtext("o:header/o:datestamp", namespaces=NS) > stamps[deleted]
    zhao = by_id[ident("person", archive["zhao"]["id"])]
    assert "剪纸六十年" in zhao.findtext(".//dc:description", namespaces=NS)
    deleted = harvester(verb="GetRecord", metadataPrefix="eac_cpf", identifier=lin)
    assert deleted.find(".//o:header", NS).get("status") == "deleted"
    assert deleted.find(".//o:metadata", NS) is None

    # persistent: the deletion stays in every later full harvest, in the sets it was in
    everything, _ = harvester.harvest("ListIdentifiers", metadataPrefix="oai_dc")
    status = {item.findtext("o:identifier", namespaces=NS): item.get("status") for item in everything}
    assert status[lin] == "deleted" and status[lin_photo] == "deleted"
    good, _ = harvester.harvest("ListIdentifiers", metadataPrefix="oai_dc", set="category:good_person")
    assert lin in identifiers(good)

    # a material restricted and opened again comes back, not deleted, with a newer datestamp
    zhao_photo = ident("material", archive["zhao"]["photo_id"])
    url = f"/api/v1/materials/{archive['zhao']['photo_id']}"
    for level, status in (("restricted", "deleted"), ("open", None)):
        clock.advance(timedelta(seconds=5))
        response = client.patch(url, json={"access_level": level}, headers=if_match(client, url, auth("archivist")))
        assert response.status_code == 200, response.get_json()
        header = harvester(verb="GetRecord", metadataPrefix="oai_dc", identifier=zhao_photo).find(".//o:header", NS)
        assert header.get("status") == status
        assert header.findtext("o:datestamp", namespaces=NS) > stamps[zhao_photo]
    back = harvester(verb="GetRecord", metadataPrefix="oai_dc", identifier=zhao_photo)
    assert back.findtext(".//dc:title", namespaces=NS) == "近照"


def test_a_withdrawn_consent_and_an_ended_embargo_reach_harvesters(app, client, auth, harvester, archive, clock):
    zhao = archive["zhao"]
    harvested, _ = harvester.harvest("ListIdentifiers", metadataPrefix="oai_dc")  # a harvester has them now
    assert ident("person", zhao["id"]) in identifiers(harvested)
    consent = next(item for item in client.get(f"/api/v1/persons/{zhao['id']}/consents",
                                               headers=auth("archivist")).get_json()["items"] if item["active"])
    response = client.post(f"/api/v1/persons/{zhao['id']}/consents/{consent['id']}/withdraw",
                           json={"reason": "家属要求"}, headers=auth("archivist"))
    assert response.status_code == 200, response.get_json()
    for identifier in (ident("person", zhao["id"]), ident("material", zhao["photo_id"])):
        record = harvester(verb="GetRecord", metadataPrefix="oai_dc", identifier=identifier)
        assert record.find(".//o:header", NS).get("status") == "deleted", identifier

    wang = archive["wang"]
    photo = upload_png(client, auth("archivist"), wang["id"], 11, person_id=str(wang["id"]), title="老照片")
    url = f"/api/v1/materials/{photo['id']}"
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    response = client.patch(url, json={"access_level": "open", "embargo_until": tomorrow},
                            headers=if_match(client, url, auth("archivist")))
    assert response.status_code == 200, response.get_json()
    embargoed = ident("material", photo["id"])
    harvester.error("idDoesNotExist", verb="GetRecord", metadataPrefix="oai_dc", identifier=embargoed)
    clock.advance(timedelta(days=1, hours=1))  # nothing is written: only time passes
    record = harvester(verb="GetRecord", metadataPrefix="oai_dc", identifier=embargoed)
    assert record.findtext(".//dc:title", namespaces=NS) == "老照片"
    assert record.find(".//o:header", NS).get("status") is None


def _later(stamp: str) -> str:
    """The second after ``stamp`` (``from`` is inclusive)."""
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ") + timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_public_interview_is_harvested_and_the_command_fills_the_ledger(app, client, auth, harvester, archive,
                                                                          runner):
    lin = archive["lin"]
    interview = client.post("/api/v1/interviews", headers=auth("archivist"), json={
        "title": "灯塔往事", "date": "2024-05-01", "interviewers": ["王采访"], "place": "连岛",
        "interviewee_ids": [lin["id"]]}).get_json()
    url = f"/api/v1/materials/{lin['photo_id']}"
    response = client.patch(url, json={"interview_id": interview["id"]},
                            headers=if_match(client, url, auth("archivist")))
    assert response.status_code == 200, response.get_json()
    lonely = client.post("/api/v1/interviews", headers=auth("archivist"), json={"title": "尚无公开资料"}).get_json()

    result = runner.invoke(args=["oai", "refresh"])
    assert result.exit_code == 0, result.output
    assert "7 records, 0 deleted" in result.output  # 3 profiles, 3 photos, 1 interview
    stamps = {header.findtext("o:identifier", namespaces=NS): header.findtext("o:datestamp", namespaces=NS)
              for header in harvester.harvest("ListIdentifiers", metadataPrefix="oai_dc")[0]}
    assert ident("interview", interview["id"]) in stamps and ident("interview", lonely["id"]) not in stamps

    record = harvester(verb="GetRecord", metadataPrefix="oai_dc", identifier=ident("interview", interview["id"]))
    assert record.findtext(".//o:setSpec", namespaces=NS) == "category:good_person"
    assert record.findtext(".//dc:title", namespaces=NS) == "灯塔往事"
    assert record.findtext(".//dc:creator", namespaces=NS) == "林海生"
    text = etree.tostring(record, encoding="unicode")
    assert "王采访" not in text and "连岛" not in text  # interviewers and place are not shown to the public
    assert f"http://localhost/api/public/materials/{lin['photo_id']}" in text

    # what the command stamped is what harvesters keep getting (the host asked does not matter)
    again = {header.findtext("o:identifier", namespaces=NS): header.findtext("o:datestamp", namespaces=NS)
             for header in harvester.harvest("ListIdentifiers", metadataPrefix="oai_dc")[0]}
    assert again == stamps
    harvester.error("cannotDisseminateFormat", verb="GetRecord", metadataPrefix="eac_cpf",
                    identifier=ident("interview", interview["id"]))

    response = client.patch(url, json={"access_level": "closed"}, headers=if_match(client, url, auth("archivist")))
    assert response.status_code == 200, response.get_json()
    gone = harvester(verb="GetRecord", metadataPrefix="oai_dc", identifier=ident("interview", interview["id"]))
    assert gone.find(".//o:header", NS).get("status") == "deleted"


def test_harvesters_are_rate_limited_with_503_and_retry_after(app, client, harvester):
    app.config.update(PUBLIC_RATE_LIMIT="2/minute")
    for _ in range(2):
        harvester(verb="Identify")
    response = client.get("/oai", query_string={"verb": "Identify"})
    assert response.status_code == 503  # the protocol's flow control
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert client.get("/api/public/persons").status_code == 200  # counted apart from the public API


def test_public_projects_are_sets(app, client, auth, harvester, archive):
    lin, zhao = archive["lin"], archive["zhao"]
    harvester.harvest("ListIdentifiers", metadataPrefix="oai_dc")  # the ledger knows them before the project
    project = client.post("/api/v1/projects", headers=auth("archivist"), json={
        "title": "连云港保卫战口述史", "content": "老战士口述", "person_ids": [lin["id"]]}).get_json()
    assert "id" in project, project
    url = f"/api/v1/materials/{lin['photo_id']}"
    response = client.patch(url, json={"project_id": project["id"]}, headers=if_match(client, url, auth("archivist")))
    assert response.status_code == 200, response.get_json()
    specs = [node.text for node in harvester(verb="ListSets").findall(".//o:setSpec", NS)]
    assert not any(spec.startswith("project") for spec in specs)  # not public yet: no set, no trace of it
    harvester.error("noRecordsMatch", verb="ListIdentifiers", metadataPrefix="oai_dc", set=f"project:{project['id']}")
    text = etree.tostring(harvester(verb="GetRecord", metadataPrefix="oai_dc",
                                    identifier=ident("material", lin["photo_id"])), encoding="unicode")
    assert "连云港保卫战" not in text

    project_url = f"/api/v1/projects/{project['id']}"
    response = client.patch(project_url, json={"is_public": True},
                            headers=if_match(client, project_url, auth("archivist")))
    assert response.status_code == 200, response.get_json()
    sets = {node.findtext("o:setSpec", namespaces=NS): node.findtext("o:setName", namespaces=NS)
            for node in harvester(verb="ListSets").findall(".//o:set", NS)}
    assert sets["project"] == "采集项目与专题记忆库" and sets[f"project:{project['id']}"] == "连云港保卫战口述史"
    members, _ = harvester.harvest("ListRecords", metadataPrefix="oai_dc", set=f"project:{project['id']}")
    assert sorted(identifiers(members)) == sorted([ident("person", lin["id"]), ident("material", lin["photo_id"])])
    photo = next(item for item in members if item.findtext(".//o:identifier", namespaces=NS).startswith(
        ident("material", "")))
    assert "采集项目：连云港保卫战口述史" in [node.text for node in photo.findall(".//dc:relation", NS)]
    assert ident("person", zhao["id"]) not in identifiers(harvester.harvest(
        "ListIdentifiers", metadataPrefix="oai_dc", set="project")[0])

    response = client.patch(project_url, json={"is_public": False},
                            headers=if_match(client, project_url, auth("archivist")))
    assert response.status_code == 200, response.get_json()
    harvester.error("noRecordsMatch", verb="ListIdentifiers", metadataPrefix="oai_dc", set=f"project:{project['id']}")
    header = harvester(verb="GetRecord", metadataPrefix="oai_dc", identifier=ident("material", lin["photo_id"]))
    assert [node.text for node in header.findall(".//o:setSpec", NS)] == ["category:good_person"]


def test_odd_arguments_are_never_echoed_invalidly(harvester, archive):
    """What the request element echoes must itself be valid: odd values are left out, never the answer broken."""
    harvester.error("idDoesNotExist", verb="GetRecord", metadataPrefix="oai_dc", identifier='oai:x:<"a b">')
    harvester.error("idDoesNotExist", verb="GetRecord", metadataPrefix="oai_dc", identifier="林海生")
    harvester.error("badArgument", verb="ListRecords", metadataPrefix="no such format", **{"from": "2026-13-01"})
    harvester.error("cannotDisseminateFormat", verb="ListRecords", metadataPrefix="no such format")
    harvester.error("badArgument", verb="ListRecords", metadataPrefix="oai_dc", set="not a set")
    harvester.error("badResumptionToken", verb="ListRecords", resumptionToken="令牌 with spaces")
