"""Helpers for the public-archive, redaction and statistics tests (also used by the authorization matrix)."""

from __future__ import annotations

from typing import Any, Callable


def with_redaction(setup: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Setup: ``setup`` (which returns a ``transcript_id``) plus one redaction made by an editor."""

    def wrapped(client: Any, auth: Any, app: Any) -> dict[str, Any]:
        ids = setup(client, auth, app)
        response = client.post(f"/api/v1/transcripts/{ids['transcript_id']}/redactions",
                               json={"start": 0.5, "end": 1.0, "reason": "privacy"}, headers=auth("editor"))
        assert response.status_code == 201, response.get_json()
        return {**ids, "redaction_id": response.get_json()["id"]}

    return wrapped
