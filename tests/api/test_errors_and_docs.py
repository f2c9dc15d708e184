"""Bad input always gets a JSON error (never HTML, never 500), and the API documents itself."""

from __future__ import annotations

import json

from tests.api.helpers import assert_error


def test_malformed_json_is_400(client, auth):
    response = client.post("/api/v1/persons", data='{"name": "张三",', content_type="application/json",
                           headers=auth("collector"))
    assert_error(response, 400, "invalid_json")


def test_wrong_types_and_unknown_fields_are_422(client, auth):
    wrong_type = assert_error(client.post("/api/v1/persons", json={"category": "good_person", "name": 42},
                                          headers=auth("collector")), 422, "validation_error")
    assert "name" in wrong_type["details"]["fields"]
    unknown = assert_error(client.post("/api/v1/persons", json={"category": "good_person", "name": "张三",
                                                                "status": "published"},
                                       headers=auth("collector")), 422)
    assert "status" in unknown["details"]["fields"]
    missing = assert_error(client.post("/api/v1/persons", json={"name": "张三"}, headers=auth("collector")), 422)
    assert "category" in missing["details"]["fields"]
    assert_error(client.post("/api/v1/persons", json=["not", "an", "object"], headers=auth("collector")), 422)
    assert_error(client.patch("/api/v1/persons/1", json={"honours": [{"year": "一九五零"}]},
                              headers=auth("editor")), 422)


def test_huge_body_is_413(client, auth):
    huge = json.dumps({"category": "good_person", "name": "张三", "biography": "长" * 2_000_000})
    response = client.post("/api/v1/persons", data=huge, content_type="application/json", headers=auth("collector"))
    assert_error(response, 413)
    assert client.get("/api/v1/persons", headers=auth("collector")).get_json()["total"] == 0


def test_wrong_content_type_is_415(client, auth):
    response = client.post("/api/v1/persons", data="category=good_person&name=x",
                           content_type="application/x-www-form-urlencoded", headers=auth("collector"))
    assert_error(response, 415, "unsupported_media_type")


def test_unknown_route_and_method_are_json(client, auth):
    assert_error(client.get("/api/v1/nothing-here", headers=auth("collector")), 404, "not_found")
    assert_error(client.get("/api/v1/persons/999999", headers=auth("collector")), 404, "person_not_found")
    response = client.put("/api/v1/persons", json={}, headers=auth("collector"))
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_bad_if_match_is_412(client, auth):
    person = client.post("/api/v1/persons", json={"category": "good_person", "name": "张三"},
                         headers=auth("editor")).get_json()
    assert_error(client.patch(f"/api/v1/persons/{person['id']}", json={"name": "李四"},
                              headers={**auth("editor"), "If-Match": "banana"}), 412, "invalid_if_match")


def test_unexpected_exception_is_json_500_without_internals(sqlite_app, monkeypatch):
    from backend.services import persons

    def explode(*_args, **_kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(persons, "list_persons", explode)
    sqlite_app.config["PROPAGATE_EXCEPTIONS"] = False
    with sqlite_app.app_context():
        from backend.services.users import create_user
        from backend.extensions import db
        from flask_jwt_extended import create_access_token

        user = create_user(None, username="u1", password="long-enough-1", roles=["editor"])
        db.session.commit()
        token = create_access_token(identity=str(user.id))
    response = sqlite_app.test_client().get("/api/v1/persons", headers={"Authorization": f"Bearer {token}"})
    error = assert_error(response, 500, "internal_error")
    assert "secret" not in json.dumps(error)


def test_openapi_document_describes_the_contract(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path in ["/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout", "/api/v1/auth/me",
                 "/api/v1/users", "/api/v1/users/{user_id}", "/api/v1/persons", "/api/v1/persons/{person_id}",
                 "/api/v1/persons/{person_id}/submit", "/api/v1/persons/{person_id}/approve",
                 "/api/v1/persons/{person_id}/return", "/api/v1/persons/{person_id}/publish",
                 "/api/v1/persons/{person_id}/withdraw", "/api/v1/audit"]:
        assert path in paths, path
    person = spec["components"]["schemas"]["PersonInput"]["properties"]
    for field in ["category", "name", "aliases", "gender", "ethnicity", "birth_date", "death_date", "native_place",
                  "area", "occupation", "honours", "biography", "tags", "client_uuid", "id_number", "phone",
                  "address"]:
        assert field in person, field
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert paths["/api/v1/auth/login"]["post"]["security"] == []
    error = spec["components"]["schemas"]["Error"]
    assert "error" in error["properties"]


def test_a_duplicate_upload_answers_as_documented(client, auth):
    """Found by the fuzz pass: the 200 that a repeated upload answers was not in the document."""
    import io

    from tests.api.helpers import tiny_png

    spec = client.get("/api/openapi.json").get_json()
    responses = spec["paths"]["/api/v1/materials"]["post"]["responses"]
    assert responses["200"]["content"] == responses["201"]["content"]
    for status in (201, 200):
        response = client.post("/api/v1/materials", data={"file": (io.BytesIO(tiny_png(3)), "a.png")},
                               content_type="multipart/form-data", headers=auth("collector"))
        assert response.status_code == status


def test_swagger_ui_is_served_offline(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and b"swagger-ui" in page.data
    asset = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000


def test_health_needs_no_login(client):
    response = client.get("/api/health")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
