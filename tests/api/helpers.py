"""Small helpers shared by the API tests."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

# Valid GB 11643 numbers (check digits computed by the standard's algorithm).
VALID_ID = "11010519491231002X"
VALID_ID_2 = "320781193805120013"


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert {"code", "message", "details"} <= set(body["error"])
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def make_person(client: FlaskClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    payload = {"category": "good_person", "name": "张三", **fields}
    response = client.post("/api/v1/persons", json=payload, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def advance(client: FlaskClient, person_id: int, headers: dict[str, str], *actions: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for action in actions:
        payload = {"comment": "请补充生平"} if action == "return" else None
        response = client.post(f"/api/v1/persons/{person_id}/{action}", json=payload, headers=headers)
        assert response.status_code == 200, (action, response.get_json())
        body = response.get_json()
    return body
