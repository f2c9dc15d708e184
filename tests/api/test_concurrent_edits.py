"""Edits that cannot be lost: many clients sending the same If-Match at the same moment to a real gunicorn, on SQLite
and on PostgreSQL. Exactly one wins, every other one is told 412 (never a 500), and what is stored is the winner's."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Iterator

import pytest
import requests

from tests.api.helpers import advance, make_person, make_publishable
from tests.support.gunicorn import Gunicorn

pytestmark = pytest.mark.both_databases  # conditional UPDATEs racing under gunicorn: row locks vs SQLite's one writer

RACERS = 20


@pytest.fixture
def server(app: Any, tmp_path: Any) -> Iterator[Gunicorn]:
    live = Gunicorn(app, tmp_path, workers=2)  # gevent workers: all racers in flight at once
    live.start()
    yield live
    live.stop()


def race(requests_to_send: list[tuple[str, str, dict[str, Any], dict[str, str]]]) -> list[tuple[int, Any]]:
    """Send every (method, url, json, headers) from its own thread, released together; (status, body) each."""
    barrier = threading.Barrier(len(requests_to_send))
    results: list[tuple[int, Any]] = [(0, None)] * len(requests_to_send)

    def send(i: int, method: str, url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        session = requests.Session()
        session.get(url.split("/api/")[0] + "/api/health", timeout=30)  # connect first, so the sends line up
        barrier.wait(timeout=60)
        response = session.request(method, url, json=body, headers=headers, timeout=60)
        results[i] = (response.status_code, response.json())

    threads = [threading.Thread(target=send, args=(i, *item)) for i, item in enumerate(requests_to_send)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def _current(server: Gunicorn, url: str, headers: dict[str, str]) -> tuple[dict[str, Any], str]:
    response = requests.get(server.base + url, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.json(), response.headers["ETag"]


def _statuses(results: list[tuple[int, Any]]) -> Counter[int]:
    return Counter(status for status, _ in results)


def test_twenty_patches_with_one_etag_save_exactly_one(app, client, auth, server):
    person = make_person(client, auth("collector"), name="周大娘")
    advance(client, person["id"], auth("collector"), "submit")
    url = f"/api/v1/persons/{person['id']}"
    before, etag = _current(server, url, auth("editor"))
    sends = [("PATCH", server.base + url, {"occupation": f"第{i}位编辑写的职业"},
              {**auth("editor" if i % 2 else "archivist"), "If-Match": etag}) for i in range(RACERS)]
    results = race(sends)

    assert _statuses(results) == {200: 1, 412: RACERS - 1}, (results, server.output()[-3000:])
    [(winner_index, winner)] = [(i, body) for i, (status, body) in enumerate(results) if status == 200]
    for status, body in results:
        if status == 412:
            assert body["error"]["code"] == "version_conflict"
            assert body["error"]["details"]["your_version"] == before["version"]
            assert body["error"]["details"]["current_version"] == before["version"] + 1
    stored, new_etag = _current(server, url, auth("archivist"))
    assert stored["occupation"] == f"第{winner_index}位编辑写的职业" == winner["occupation"]
    assert stored["version"] == before["version"] + 1 and new_etag == f'"{before["version"] + 1}"'
    audit = requests.get(f"{server.base}/api/v1/audit?entity_type=person&entity_id={person['id']}",
                         headers=auth("archivist"), timeout=30).json()["items"]
    assert [event["action"] for event in audit].count("update") == 1, "the losers left no trace"


def test_publish_racing_withdraw_lets_one_win(app, client, auth, server):
    person = make_person(client, auth("collector"), name="吴老师")
    advance(client, person["id"], auth("collector"), "submit")
    advance(client, person["id"], auth("archivist"), "approve")
    make_publishable(client, person["id"], auth("archivist"))
    url = f"/api/v1/persons/{person['id']}"
    before, etag = _current(server, url, auth("archivist"))
    assert before["status"] == "approved"
    sends = [("POST", f"{server.base}{url}/{'publish' if i % 2 else 'withdraw'}", {},
              {**auth("archivist" if i % 4 < 2 else "admin"), "If-Match": etag}) for i in range(RACERS)]
    results = race(sends)

    assert _statuses(results) == {200: 1, 412: RACERS - 1}, (results, server.output()[-3000:])
    [winner] = [body for status, body in results if status == 200]
    stored, _ = _current(server, url, auth("archivist"))
    assert stored["status"] == winner["status"] in ("published", "withdrawn")
    assert stored["version"] == before["version"] + 1
    audit = requests.get(f"{server.base}/api/v1/audit?entity_type=person&entity_id={person['id']}",
                         headers=auth("archivist"), timeout=30).json()["items"]
    assert sum(event["action"] in ("publish", "withdraw") for event in audit) == 1


def test_approve_racing_return_lets_one_win(app, client, auth, server):
    person = make_person(client, auth("collector"), name="郑师傅")
    advance(client, person["id"], auth("collector"), "submit")
    url = f"/api/v1/persons/{person['id']}"
    before, etag = _current(server, url, auth("archivist"))
    sends = [("POST", f"{server.base}{url}/{'approve' if i % 2 else 'return'}",
              {} if i % 2 else {"comment": f"第{i}条意见"}, {**auth("archivist"), "If-Match": etag})
             for i in range(RACERS)]
    results = race(sends)

    assert _statuses(results) == {200: 1, 412: RACERS - 1}, (results, server.output()[-3000:])
    [winner] = [body for status, body in results if status == 200]
    stored, _ = _current(server, url, auth("archivist"))
    assert stored["status"] == winner["status"] in ("approved", "returned")
    assert stored["return_comment"] == winner["return_comment"]
    notifications = requests.get(f"{server.base}/api/v1/me/notifications", headers=auth("collector"),
                                 timeout=30).json()
    assert notifications["total"] == (1 if winner["status"] == "returned" else 0), "only the winner notified"


def test_overlapping_retries_with_one_idempotency_key_create_one_profile(app, client, auth, server):
    """A phone that retries before the first attempt answered: one profile, and every 2xx answer is the same one
    (PostgreSQL may answer the overlapping ones 409 with Retry-After; SQLite makes them wait and replays)."""
    headers = {**auth("collector"), "Idempotency-Key": "phone-3-sync-0001"}
    sends = [("POST", f"{server.base}/api/v1/persons", {"category": "good_person", "name": "王阿婆"}, headers)
             for _ in range(10)]
    results = race(sends)

    statuses = _statuses(results)
    assert set(statuses) <= {201, 409} and statuses[201] >= 1, (results, server.output()[-3000:])
    assert len({body["id"] for status, body in results if status == 201}) == 1
    for status, body in results:
        if status == 409:
            assert body["error"]["code"] == "idempotency_in_progress"
    listing = requests.get(f"{server.base}/api/v1/persons", headers=auth("collector"), timeout=30).json()
    assert listing["total"] == 1


def test_twenty_creates_with_one_client_uuid_make_one_profile(app, client, auth, server):
    """A phone that retries a create over a flaky network, many times at once: one profile, the others are told it
    exists (200) or to retry (409), never a 500."""
    url = server.base + "/api/v1/persons"
    draft = {"name": "秦阿婆", "category": "good_person", "client_uuid": "7d1e5c0a-3b8f-4c61-9a52-0c8f2e7b4d19"}
    results = race([("POST", url, draft, auth("collector")) for _ in range(RACERS)])

    statuses = _statuses(results)
    assert statuses[201] == 1 and set(statuses) <= {200, 201, 409}, (results, server.output()[-3000:])
    ids = {body["id"] for status, body in results if status in (200, 201)}
    assert len(ids) == 1
    for status, body in results:
        if status == 409:
            assert body["error"]["code"] == "concurrent_conflict"
    retried = requests.post(url, json=draft, headers=auth("collector"), timeout=30)
    assert retried.status_code == 200 and retried.json()["id"] in ids
