"""Bad input answers a clear 4xx, never 500: out-of-range integers, deep or broken JSON, characters XML cannot hold,
unknown form fields; and an anonymous caller hears 401 before anything about the body it sent."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict
from werkzeug.routing import IntegerConverter

from tests.api.helpers import assert_error, make_person, tiny_png

INT64_MAX = 2**63 - 1
TOO_BIG = (2**63, 10**30)
TOO_SMALL = (-(2**63) - 1,)


def _spec(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return client.get("/api/openapi.json").get_json()


def _operations(spec: dict[str, Any]):  # type: ignore[no-untyped-def]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete", "head"):
                yield path, method, operation


def _fill(path: str, value: Any = 1) -> str:
    return re.sub(r"\{[^}]+\}", str(value), path)


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _json_body_schema(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return _resolve(spec, content["application/json"].get("schema", {}))


# --- integers beyond 64 bits ------------------------------------------------------------------------------------

def test_every_path_id_beyond_64_bits_is_404(app, client, auth):
    """Every route with an integer in its path, with that integer at 2^63 and beyond (and the largest one that
    fits, which simply is not there), answers 404 as JSON."""
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
             and any(isinstance(c, IntegerConverter) for c in rule._converters.values())]
    assert len(rules) >= 35
    checked = 0
    for rule in rules:
        int_args = [name for name, converter in rule._converters.items() if isinstance(converter, IntegerConverter)]
        for method in sorted(rule.methods - {"OPTIONS", "HEAD"}):
            for value in (*TOO_BIG, INT64_MAX):
                url = rule.rule
                for name, converter in rule._converters.items():
                    filler = value if name in int_args else "1"
                    url = re.sub(rf"<(?:[^:<>]+:)?{name}>", str(filler), url)
                headers = {**auth("admin"), "If-Match": '"1"'}
                response = client.open(url, method=method, json={} if method in ("POST", "PUT", "PATCH") else None,
                                       headers=headers)
                expected = {404} if value > INT64_MAX else {404, 409, 422, 428}  # the largest id: no such row
                assert response.status_code in expected, (method, url, response.status_code,
                                                          response.get_data()[:300])
                assert response.mimetype == "application/json"
                checked += 1
    assert checked >= 100


def test_integer_query_parameters_beyond_64_bits_are_422(client, auth):
    spec = _spec(client)
    checked = []
    for path, method, operation in _operations(spec):
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query" or parameter.get("schema", {}).get("type") != "integer":
                continue
            for value in (*TOO_BIG, *TOO_SMALL):
                response = client.open(_fill(path), method=method, query_string={parameter["name"]: str(value)},
                                       headers=auth("admin"))
                error = assert_error(response, 422)
                assert parameter["name"] in error["details"]["fields"], (path, parameter["name"], error)
            checked.append((path, parameter["name"]))
    assert {("/api/v1/persons", "page"), ("/api/v1/persons", "per_page"), ("/api/public/persons", "page"),
            ("/api/v1/materials", "person_id"), ("/api/v1/transcripts", "collector")} <= set(checked)
    assert len(checked) >= 30


def test_integer_body_fields_beyond_64_bits_are_422(client, auth):
    spec = _spec(client)
    checked = []
    for path, method, operation in _operations(spec):
        schema = _json_body_schema(spec, operation)
        if not schema:
            continue
        for name, prop in schema.get("properties", {}).items():
            prop = _resolve(spec, prop)
            if prop.get("type") == "integer":
                bodies = [{name: value} for value in (*TOO_BIG, *TOO_SMALL)]
            elif prop.get("type") == "array" and _resolve(spec, prop.get("items", {})).get("type") == "integer":
                bodies = [{name: [value, value]} for value in (*TOO_BIG, *TOO_SMALL)]
            else:
                continue
            for body in bodies:
                response = client.open(_fill(path), method=method, json=body,
                                       headers={**auth("admin"), "If-Match": '"1"'})
                error = assert_error(response, 422)
                assert name in error["details"]["fields"], (path, name, error)
            checked.append((path, name))
    assert {("/api/v1/interviews", "interviewee_ids"), ("/api/v1/materials/{material_id}/persons", "person_id"),
            ("/api/v1/transcripts/{transcript_id}/revert", "revision")} <= set(checked)


def test_openapi_documents_the_64_bit_bounds(client):
    spec = _spec(client)
    item = spec["paths"]["/api/v1/persons/{person_id}"]
    person_id = next(p for p in item.get("parameters", []) + item["get"].get("parameters", [])
                     if p["name"] == "person_id")
    assert person_id["schema"]["maximum"] == INT64_MAX
    page = next(p for p in spec["paths"]["/api/v1/persons"]["get"]["parameters"] if p["name"] == "page")
    assert page["schema"]["maximum"] <= INT64_MAX and page["schema"]["minimum"] == 1


def test_nested_integers_beyond_64_bits_are_422(client, auth):
    response = client.put("/api/v1/transcripts/1/speakers", json={"SPEAKER_1": {"person_id": 2**64}},
                          headers={**auth("editor"), "If-Match": '"1"'})
    assert response.status_code == 422, response.get_data(as_text=True)
    response = client.post("/api/v1/persons", json={"category": "good_person", "name": "张三",
                                                   "honours": [{"title": "奖", "year": 10**20}]},
                           headers=auth("collector"))
    assert_error(response, 422)


def test_an_id_written_in_other_digits_is_not_an_id(client, auth):
    person = make_person(client, auth("editor"))
    arabic_indic = str(person["id"]).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert_error(client.get(f"/api/v1/persons/{arabic_indic}", headers=auth("editor")), 404)


# --- JSON the parser should never see --------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [65, 1_000, 100_000])
def test_json_nested_deeper_than_64_is_400(client, auth, depth):
    for body in ("[" * depth + "]" * depth,
                 '{"category": "good_person", "name": "张三", "biography": ' + '{"a": ' * depth + "1" + "}" * depth
                 + "}"):
        response = client.post("/api/v1/persons", data=body, content_type="application/json",
                               headers=auth("collector"))
        error = assert_error(response, 400, "json_too_deep")
        assert error["details"]["max_depth"] == 64
    assert client.get("/api/v1/persons", headers=auth("collector")).get_json()["total"] == 0


def test_json_nested_64_deep_reaches_validation(client, auth):
    body = '{"category": "good_person", "name": "张三", "tags": ' + "[" * 63 + "]" * 63 + "}"
    response = client.post("/api/v1/persons", data=body, content_type="application/json", headers=auth("collector"))
    error = assert_error(response, 422)
    assert "tags" in error["details"]["fields"]


def test_brackets_inside_strings_do_not_count_as_nesting(client, auth):
    response = client.post("/api/v1/persons", json={"category": "good_person", "name": "张三",
                                                   "biography": "[" * 500 + '{"\\' + "}" * 500},
                           headers=auth("collector"))
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize("text", ["a\\ud800", "\\udfff", "\\ud800\\ud800", "x\\udc00y"])
def test_lone_surrogates_are_400(client, auth, text):
    body = '{"category": "good_person", "name": "' + text + '"}'
    response = client.post("/api/v1/persons", data=body, content_type="application/json", headers=auth("collector"))
    assert_error(response, 400, "invalid_unicode")
    key = '{"category": "good_person", "name": "张三", "area": {"' + text + '": "x"}}'
    response = client.post("/api/v1/persons", data=key, content_type="application/json", headers=auth("collector"))
    assert_error(response, 400, "invalid_unicode")
    assert client.get("/api/v1/persons", headers=auth("collector")).get_json()["total"] == 0


def test_a_surrogate_pair_is_one_character(client, auth):
    body = '{"category": "good_person", "name": "张\\ud83d\\ude00"}'
    response = client.post("/api/v1/persons", data=body, content_type="application/json", headers=auth("collector"))
    assert response.status_code == 201 and response.get_json()["name"] == "张😀"


def test_json_that_is_not_utf8_is_400(client, auth):
    response = client.post("/api/v1/persons", data=b'{"category": "good_person", "name": "\xff\xfe"}',
                           content_type="application/json", headers=auth("collector"))
    assert_error(response, 400, "invalid_json")


# --- characters XML cannot hold ---------------------------------------------------------------------------------

BAD_CHARACTERS = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\ufffe", "\uffff"]


@pytest.mark.parametrize("bad", BAD_CHARACTERS)
def test_characters_xml_cannot_hold_are_422_in_every_text_field(client, auth, bad):
    collector = auth("collector")
    for body, field in (({"category": "good_person", "name": f"张{bad}三"}, "name"),
                        ({"category": "good_person", "name": "张三", "aliases": [f"小{bad}张"]}, "aliases"),
                        ({"category": "good_person", "name": "张三", "honours": [{"title": f"奖{bad}"}]}, "honours"),
                        ({"category": "good_person", "name": "张三", "area": {"district": bad}}, "area"),
                        ({"category": "good_person", "name": "张三", "biography": f"生平{bad}"}, "biography")):
        error = assert_error(client.post("/api/v1/persons", json=body, headers=collector), 422)
        assert field in error["details"]["fields"], (field, error)
    error = assert_error(client.get("/api/v1/persons", query_string={"q": f"张{bad}"}, headers=collector), 422)
    assert "q" in error["details"]["fields"]
    error = assert_error(client.post("/api/v1/interviews", json={"title": f"访谈{bad}"}, headers=collector), 422)
    assert "title" in error["details"]["fields"]
    assert client.get("/api/v1/persons", headers=collector).get_json()["total"] == 0


def test_tabs_newlines_and_every_other_character_are_kept(client, auth):
    text = "第一段\t缩进\r\n第二段\n\u00a0\u3000😀\ufffd"
    person = make_person(client, auth("collector"), biography=text)
    assert person["biography"] == text


@pytest.mark.parametrize("bad", ["\x01", "\ufffe"])
def test_characters_xml_cannot_hold_are_422_in_material_fields(client, auth, bad):
    data = {"file": (io.BytesIO(tiny_png(7)), "a.png"), "title": f"标题{bad}"}
    response = client.post("/api/v1/materials", data=data, content_type="multipart/form-data",
                           headers=auth("collector"))
    error = assert_error(response, 422)
    assert "title" in error["details"]["fields"]
    data = {"file": (io.BytesIO(tiny_png(7)), f"a{bad}.png")}
    response = client.post("/api/v1/materials", data=data, content_type="multipart/form-data",
                           headers=auth("collector"))
    assert_error(response, 422)
    material = client.post("/api/v1/materials", data={"file": (io.BytesIO(tiny_png(7)), "a.png")},
                           content_type="multipart/form-data", headers=auth("collector")).get_json()
    url = f"/api/v1/materials/{material['id']}"
    response = client.patch(url, json={"title": f"标题{bad}"}, headers={**auth("collector"), "If-Match": '"1"'})
    error = assert_error(response, 422)
    assert "title" in error["details"]["fields"]


def test_characters_xml_cannot_hold_are_422_in_tus_metadata(client, auth):
    import base64

    metadata = ",".join(f"{key} {base64.b64encode(value.encode()).decode()}"
                        for key, value in {"filename": "a.pdf", "title": "标题\x07"}.items())
    response = client.post("/api/v1/uploads", headers={**auth("collector"), "Tus-Resumable": "1.0.0",
                                                       "Upload-Length": "100", "Upload-Metadata": metadata})
    error = assert_error(response, 422)
    assert "title" in error["details"]["fields"]


# --- multipart forms --------------------------------------------------------------------------------------------

def test_unknown_multipart_fields_are_422(client, auth):
    for extra in ({"colour": "blue"}, {"file2": (io.BytesIO(tiny_png(9)), "b.png")}):
        data = {"file": (io.BytesIO(tiny_png(8)), "a.png"), **extra}
        response = client.post("/api/v1/materials", data=data, content_type="multipart/form-data",
                               headers=auth("collector"))
        error = assert_error(response, 422)
        assert set(error["details"]["fields"]) == set(extra), error
    repeated = MultiDict([("file", (io.BytesIO(tiny_png(8)), "a.png")), ("title", "一"), ("title", "二")])
    response = client.post("/api/v1/materials", data=repeated, content_type="multipart/form-data",
                           headers=auth("collector"))
    assert "title" in assert_error(response, 422)["details"]["fields"]
    assert client.get("/api/v1/materials", headers=auth("collector")).get_json()["total"] == 0


def test_multipart_ids_beyond_64_bits_are_422(client, auth):
    for field in ("person_id", "interview_id"):
        for value in ("9" * 30, "٣"):
            data = {"file": (io.BytesIO(tiny_png(8)), "a.png"), field: value}
            response = client.post("/api/v1/materials", data=data, content_type="multipart/form-data",
                                   headers=auth("collector"))
            assert field in assert_error(response, 422)["details"]["fields"]


# --- authentication comes first ---------------------------------------------------------------------------------

JUNK_BODY = '{"zzz": [1, 2, {"unknown": "field"}'  # not even JSON


def test_anonymous_requests_are_401_whatever_the_body(client):
    """Every operation that needs a login answers an anonymous caller 401, before it looks at a body or query
    string that is malformed, of the wrong type or full of unknown fields."""
    spec = _spec(client)
    checked = 0
    for path, method, operation in _operations(spec):
        if operation.get("security") == []:
            continue
        url = _fill(path)
        for content_type, body in (("application/json", JUNK_BODY), ("application/json", '{"zzz": 1}'),
                                   ("text/plain", "junk"), ("multipart/form-data; boundary=x", "--x--")):
            response = client.open(url, method=method.upper(), data=body, content_type=content_type,
                                   query_string={"page": "x", "zzz": "1"})
            assert response.status_code == 401, (method, path, content_type, response.status_code,
                                                  response.get_data(as_text=True)[:300])
            checked += 1
    assert checked >= 4 * 60


def test_a_role_without_the_permission_hears_403_before_validation(client, auth):
    response = client.post("/api/v1/users", data=JUNK_BODY, content_type="application/json",
                           headers=auth("editor"))
    assert_error(response, 403, "role_required")
    response = client.get("/api/v1/audit", query_string={"page": "x"}, headers=auth("collector"))
    assert_error(response, 403, "role_required")


def test_logged_in_callers_still_get_validation_errors(client, auth):
    response = client.post("/api/v1/users", data=JUNK_BODY, content_type="application/json",
                           headers=auth("admin"))
    assert_error(response, 400, "invalid_json")
    assert_error(client.get("/api/v1/persons", query_string={"page": "x"}, headers=auth("editor")), 422)


def test_public_endpoints_still_validate_without_a_login(client):
    assert_error(client.get("/api/public/persons", query_string={"page": "x"}), 422)
    assert_error(client.post("/api/v1/auth/login", json={"username": "a"}), 422)
    assert_error(client.post("/api/v1/auth/login", data=JUNK_BODY, content_type="application/json"), 400)
    assert client.options("/api/v1/uploads").status_code == 204  # tus discovery needs no token
