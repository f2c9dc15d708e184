"""A real OAI-PMH harvester (sickle, from PyPI) harvests the archive through gunicorn: everything, page after page
by resumption token, then incrementally with the deletions; several harvesters starting at once all get the same
complete answer."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
import requests
from lxml import etree
from sickle import Sickle
from sickle.oaiexceptions import BadResumptionToken, CannotDisseminateFormat, IdDoesNotExist, NoRecordsMatch

from tests.api.helpers import if_match
from tests.interop.conftest import published_person
from tests.support.gunicorn import Gunicorn

REPOSITORY = "archive.example.org"


@pytest.fixture
def archive(app, client, auth) -> dict[str, Any]:
    app.config.update(PUBLIC_RATE_LIMIT="off")
    people = [published_person(client, auth, name=name, category=category) for name, category in (
        ("林海生", "good_person"), ("王秀英", "good_person"), ("赵文华", "notable"), ("周德明", "local_worthy"),
        ("陈玉兰", "good_person"))]
    return {"people": people}


@pytest.fixture
def server(app, tmp_path, archive) -> Iterator[Gunicorn]:
    gunicorn = Gunicorn(app, tmp_path)
    gunicorn.env.update(LIUFANG_OAI_PAGE_SIZE="3", LIUFANG_PUBLIC_RATE_LIMIT="off",
                        LIUFANG_OAI_REPOSITORY_IDENTIFIER=REPOSITORY,
                        LIUFANG_PUBLIC_URL="https://archive.example.org")
    gunicorn.start()
    try:
        yield gunicorn
    finally:
        gunicorn.stop()


def ident(kind: str, entity_id: int) -> str:
    return f"oai:{REPOSITORY}:{kind}/{entity_id}"


def test_sickle_harvests_everything_then_the_changes(client, auth, archive, server, schemas):
    # Harvesters arriving together before the ledger was ever filled: one fills it, all get the whole list.
    answers: list[requests.Response] = []

    def ask() -> None:
        answers.append(requests.get(f"{server.base}/oai", params={"verb": "ListIdentifiers",
                                                                  "metadataPrefix": "oai_dc"}, timeout=30))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answer.status_code for answer in answers] == [200] * 6, server.output()[-3000:]
    first_pages = {tuple(etree.fromstring(answer.content).xpath("//*[local-name()='identifier']/text()"))
                   for answer in answers}
    assert len(first_pages) == 1
    for answer in answers:
        schemas.validate(answer.content, "OAI-PMH.xsd")

    harvester = Sickle(f"{server.base}/oai")
    identify = harvester.Identify()
    assert identify.repositoryName.endswith("口述史与人物档案")
    assert identify.baseURL == "https://archive.example.org/oai"
    assert identify.deletedRecord == "persistent"
    assert [s.setSpec for s in harvester.ListSets()] == ["category", "category:good_person", "category:notable",
                                                         "category:local_worthy"]
    assert [f.metadataPrefix for f in harvester.ListMetadataFormats()] == ["oai_dc", "eac_cpf"]

    people, photos = archive["people"], [person["photo_id"] for person in archive["people"]]
    records = list(harvester.ListRecords(metadataPrefix="oai_dc"))  # 10 records, pages of 3: 3 tokens followed
    assert sorted(record.header.identifier for record in records) == sorted(
        [ident("person", person["id"]) for person in people] + [ident("material", photo) for photo in photos])
    titles = {record.header.identifier: record.metadata["title"] for record in records}
    assert titles[ident("person", people[0]["id"])][0] == "林海生"
    assert titles[ident("material", photos[0])] == ["近照"]
    eac = list(harvester.ListRecords(metadataPrefix="eac_cpf"))
    assert len(eac) == 5 and all(record.raw.count("urn:isbn:1-931666-33-4") for record in eac)
    for record in eac:
        schemas.validate(record.xml.find(".//{urn:isbn:1-931666-33-4}eac-cpf"), "cpf.xsd")
    good = list(harvester.ListIdentifiers(metadataPrefix="oai_dc", set="category:good_person"))
    assert len(good) == 6
    assert all("category:good_person" in header.setSpecs for header in good)
    record = harvester.GetRecord(identifier=ident("person", people[2]["id"]), metadataPrefix="eac_cpf")
    assert "赵文华" in record.raw
    with pytest.raises(IdDoesNotExist):
        harvester.GetRecord(identifier=ident("person", 424242), metadataPrefix="oai_dc")
    with pytest.raises(CannotDisseminateFormat):
        list(harvester.ListRecords(metadataPrefix="marc21"))
    with pytest.raises(BadResumptionToken):
        list(harvester.ListRecords(resumptionToken="forged"))

    # The next harvest, from the last datestamp seen: the withdrawn profile and its photo come as deletions.
    last = max(record.header.datestamp for record in records)
    since = (datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ") + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(NoRecordsMatch):
        list(harvester.ListRecords(metadataPrefix="oai_dc", **{"from": since}))
    _wait_past(last)  # the server stamps with real time: let that second pass before the change
    url = f"/api/v1/persons/{people[1]['id']}"
    response = client.post(f"{url}/withdraw", headers=if_match(client, url, auth("archivist")))
    assert response.status_code == 200, response.get_json()
    changes = list(harvester.ListRecords(metadataPrefix="oai_dc", **{"from": since}))
    assert {(record.header.identifier, record.deleted) for record in changes} == {
        (ident("person", people[1]["id"]), True), (ident("material", photos[1]), True)}
    everything = list(harvester.ListIdentifiers(metadataPrefix="oai_dc"))
    assert len(everything) == 10 and sum(header.deleted for header in everything) == 2
    assert len(list(harvester.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=True))) == 8

    post = Sickle(f"{server.base}/oai", http_method="POST")
    assert len(list(post.ListIdentifiers(metadataPrefix="oai_dc"))) == 10
    assert "Traceback" not in server.output()


def _wait_past(stamp: str) -> None:
    """Until real time is past the second ``stamp`` names."""
    end = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) + timedelta(seconds=1)
    while datetime.now(timezone.utc) < end:
        time.sleep(0.05)
