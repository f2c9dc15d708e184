"""Every endpoint × every role: anonymous, collector (owner), other collector, editor, archivist, admin."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from tests.api.helpers import advance, make_person

ROLES = ("anonymous", "collector", "other_collector", "editor", "archivist", "admin")


def person_in(*actions: str) -> Callable[[Any, Any], int]:
    """Setup: a profile created by `collector`, moved through ``actions``."""

    def setup(client: Any, auth: Any) -> int:
        person = make_person(client, auth("collector"), name="测试人物")
        if actions:
            advance(client, person["id"], auth("collector"), actions[0])
            advance(client, person["id"], auth("archivist"), *actions[1:])
        return person["id"]

    return setup


def a_user(client: Any, auth: Any) -> int:
    return client.get("/api/v1/auth/me", headers=auth("editor")).get_json()["id"]


# (name, method, path template, json body, setup, expected status per role in ROLES order)
MATRIX: list[tuple[str, str, str, Any, Any, tuple[int, ...]]] = [
    ("me", "GET", "/api/v1/auth/me", None, None, (401, 200, 200, 200, 200, 200)),
    ("logout", "POST", "/api/v1/auth/logout", None, None, (401, 204, 204, 204, 204, 204)),
    ("list users", "GET", "/api/v1/users", None, None, (401, 403, 403, 403, 403, 200)),
    ("create user", "POST", "/api/v1/users", {"username": "newbie", "password": "long-enough-1", "roles": ["editor"]},
     None, (401, 403, 403, 403, 403, 201)),
    ("get user", "GET", "/api/v1/users/{id}", None, a_user, (401, 403, 403, 403, 403, 200)),
    ("patch user", "PATCH", "/api/v1/users/{id}", {"display_name": "新名字"}, a_user, (401, 403, 403, 403, 403, 200)),
    ("list persons", "GET", "/api/v1/persons", None, None, (401, 200, 200, 200, 200, 200)),
    ("create person", "POST", "/api/v1/persons", {"category": "notable", "name": "新人物"}, None,
     (401, 201, 201, 201, 201, 201)),
    ("get draft", "GET", "/api/v1/persons/{id}", None, person_in(), (401, 200, 404, 200, 200, 200)),
    ("get published", "GET", "/api/v1/persons/{id}", None, person_in("submit", "approve", "publish"),
     (401, 200, 200, 200, 200, 200)),
    ("patch draft", "PATCH", "/api/v1/persons/{id}", {"occupation": "渔民"}, person_in(),
     (401, 200, 404, 200, 200, 200)),
    ("patch submitted", "PATCH", "/api/v1/persons/{id}", {"occupation": "渔民"}, person_in("submit"),
     (401, 403, 404, 200, 200, 200)),
    ("patch published", "PATCH", "/api/v1/persons/{id}", {"occupation": "渔民"},
     person_in("submit", "approve", "publish"), (401, 403, 403, 403, 200, 200)),
    ("delete draft", "DELETE", "/api/v1/persons/{id}", None, person_in(), (401, 204, 404, 403, 403, 204)),
    ("submit", "POST", "/api/v1/persons/{id}/submit", None, person_in(), (401, 200, 404, 200, 200, 200)),
    ("approve", "POST", "/api/v1/persons/{id}/approve", None, person_in("submit"), (401, 403, 404, 403, 200, 200)),
    ("return", "POST", "/api/v1/persons/{id}/return", {"comment": "请补充"}, person_in("submit"),
     (401, 403, 404, 403, 200, 200)),
    ("publish", "POST", "/api/v1/persons/{id}/publish", None, person_in("submit", "approve"),
     (401, 403, 404, 403, 200, 200)),
    ("withdraw", "POST", "/api/v1/persons/{id}/withdraw", None, person_in("submit", "approve", "publish"),
     (401, 403, 403, 403, 200, 200)),
    ("audit", "GET", "/api/v1/audit?entity_type=person", None, None, (401, 403, 403, 403, 200, 200)),
]

CASES = [pytest.param(name, method, path, body, setup, role, expected[i], id=f"{name}-{role}")
         for name, method, path, body, setup, expected in MATRIX for i, role in enumerate(ROLES)]


@pytest.mark.parametrize("name, method, path, body, setup, role, expected", CASES)
def test_endpoint_role_status(client, auth, name, method, path, body, setup, role, expected):
    if setup is not None:
        path = path.format(id=setup(client, auth))
    response = client.open(path, method=method, json=body, headers=auth(role))
    assert response.status_code == expected, (name, role, response.get_json())
    if expected >= 400:
        assert set(response.get_json()["error"]) >= {"code", "message", "details"}


def test_every_api_route_is_in_the_matrix(app):
    """A new endpoint must be added to the matrix above (or to the public list) before it ships."""
    covered = {(method, path.split("?")[0].replace("{id}", "<int>")) for _, method, path, *_ in MATRIX}
    covered |= {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/refresh")}  # tested in test_auth
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.replace("<int:user_id>", "<int>").replace("<int:person_id>", "<int>")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (method, path) not in covered:
                missing.append(f"{method} {rule.rule}")
    assert not missing, missing
