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


# What each category must have before it may be published (backend/services/publication.py). make_person fills
# these at creation, so a test that later publishes adds no "update" events to the profile's audit trail.
PUBLISHABLE_FIELDS: dict[str, dict[str, Any]] = {
    "good_person": {"gender": "female", "area": {"district": "测试区"}, "biography": "数十年如一日照顾孤寡老人。"},
    "notable": {"gender": "female", "occupation": "剪纸艺人", "birth_date": "1938",
                "biography": "自幼随母学习剪纸。"},
    "local_worthy": {"native_place": "江苏连云港", "area": {"district": "测试区"}, "biography": "捐资修桥办学。"},
}


def make_person(client: FlaskClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    """Create a profile; fields needed for publication get defaults unless given (pass None or "" to leave one out)."""
    payload = {"category": "good_person", "name": "张三",
               **PUBLISHABLE_FIELDS.get(fields.get("category", "good_person"), {}), **fields}
    response = client.post("/api/v1/persons", json=payload, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def if_match(client: FlaskClient, url: str, headers: dict[str, str]) -> dict[str, str]:
    """``headers`` plus If-Match with the ETag that a GET of ``url`` answers now (what a client would send)."""
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    return {**headers, "If-Match": response.headers["ETag"]}


def advance(client: FlaskClient, person_id: int, headers: dict[str, str], *actions: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for action in actions:
        if action == "publish":
            make_publishable(client, person_id, headers)
        payload = {"comment": "请补充生平"} if action == "return" else None
        response = client.post(f"/api/v1/persons/{person_id}/{action}", json=payload,
                               headers=if_match(client, f"/api/v1/persons/{person_id}", headers))
        assert response.status_code == 200, (action, response.get_json())
        body = response.get_json()
    return body


def tiny_png(seed: int, shade: int = 0) -> bytes:
    """An 8×8 PNG whose bytes differ per (seed, shade), so uploads are not de-duplicated into one material
    (make_publishable uses shades 201 and 202 with the person's id as seed)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (seed % 256, (seed // 256) % 256, shade % 256)).save(buffer, "PNG")
    return buffer.getvalue()


def upload_png(client: FlaskClient, headers: dict[str, str], seed: int, shade: int = 0,
               **form: str) -> dict[str, Any]:
    """Upload a tiny PNG through multipart POST /api/v1/materials (form fields: person_id, title, …)."""
    import io

    data: dict[str, Any] = {"file": (io.BytesIO(tiny_png(seed, shade)), "photo.png"), **form}
    response = client.post("/api/v1/materials", data=data, content_type="multipart/form-data", headers=headers)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def make_publishable(client: FlaskClient, person_id: int, headers: dict[str, str]) -> None:
    """Through the real API, give a profile what the publication checklist asks for: missing required fields
    (only when absent: make_person already fills them), a photo linked to the person, and an active public consent
    with its signed form. Materials and consents are audited on their own entities, not on the person."""
    url = f"/api/v1/persons/{person_id}"
    person = client.get(url, headers=headers).get_json()
    wanted = PUBLISHABLE_FIELDS[person["category"]]
    missing = {field: value for field, value in wanted.items()
               if not (person["area"].get("district") if field == "area" else person.get(field))}
    if missing:
        response = client.patch(url, json=missing, headers=if_match(client, url, headers))
        assert response.status_code == 200, response.get_json()
    if client.get(f"{url}/materials", headers=headers).get_json()["total"] == 0:
        upload_png(client, headers, person_id, 201, person_id=str(person_id), title="近照")
    consents = client.get(f"{url}/consents?per_page=100", headers=headers).get_json()["items"]
    if not any(c["active"] and c["scope"] == "public" and c["interview_id"] is None for c in consents):
        form = upload_png(client, headers, person_id, 202, title="授权书")
        response = client.post(f"{url}/consents", json={"scope": "public", "signed_at": "2024-05-01",
                                                        "material_id": form["id"]}, headers=headers)
        assert response.status_code == 201, response.get_json()
