"""Fixtures for review tests: a second editor, and a machine transcript of `collector`'s recording."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.review.helpers import make_transcript, user_id


@pytest.fixture
def second_editor(app: Any, users: dict[str, Any]) -> dict[str, str]:
    """Headers of a second editor (the shared fixtures have one account per role)."""
    from flask_jwt_extended import create_access_token

    from backend.extensions import db
    from backend.services.users import create_user

    with app.app_context():
        user = create_user(None, username="editor-2", password="correct-horse-battery", roles=["editor"],
                           display_name="李编辑")
        db.session.commit()
        return {"Authorization": f"Bearer {create_access_token(identity=str(user.id))}"}


@pytest.fixture
def transcript_id(app: Any, client: Any, auth: Callable[[str], dict[str, str]]) -> int:
    return make_transcript(app, user_id(client, auth("collector")))


@pytest.fixture
def read(client: Any, auth: Callable[[str], dict[str, str]]) -> Callable[..., tuple[dict[str, Any], str]]:
    """``read(tid, role_or_headers)`` → (transcript JSON, ETag)."""

    def get(tid: int, who: Any = "editor") -> tuple[dict[str, Any], str]:
        headers = auth(who) if isinstance(who, str) else who
        response = client.get(f"/api/v1/transcripts/{tid}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json(), response.headers["ETag"]

    return get
