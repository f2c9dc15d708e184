"""A field app's local store, as a phone keeps it: applies the pages of GET /api/v1/sync and remembers the cursor."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient


class Phone:
    """One device of one user: ``records[(type, id)]`` is what it stored; ``sync()`` pages until has_more is false."""

    def __init__(self, client: FlaskClient, headers: dict[str, str], limit: int = 100) -> None:
        self.client, self.headers, self.limit = client, headers, limit
        self.records: dict[tuple[str, int], dict[str, Any]] = {}
        self.etags: dict[tuple[str, int], str] = {}
        self.cursor: str | None = None
        self.pages: list[list[dict[str, Any]]] = []

    def page(self) -> dict[str, Any]:
        """Fetch and apply one page; returns its body."""
        query = {"limit": self.limit}
        if self.cursor is not None:
            query["since"] = self.cursor
        response = self.client.get("/api/v1/sync", query_string=query, headers=self.headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        keys = [(change["type"], change["id"]) for change in body["changes"]]
        assert len(keys) == len(set(keys)), f"a record twice in one page: {keys}"
        for change in body["changes"]:
            key = (change["type"], change["id"])
            if change["op"] == "upsert":
                self.records[key] = change["data"]
                if "etag" in change:
                    self.etags[key] = change["etag"]
            else:
                assert change["op"] == "delete" and set(change) == {"type", "id", "op"}, change
                self.records.pop(key, None)
                self.etags.pop(key, None)
        self.cursor = body["cursor"]
        self.pages.append(body["changes"])
        return body

    def sync(self, max_pages: int = 1000) -> list[dict[str, Any]]:
        """Page until has_more is false; returns every change received in this sync, in order."""
        received: list[dict[str, Any]] = []
        for _ in range(max_pages):
            body = self.page()
            received.extend(body["changes"])
            if not body["has_more"]:
                return received
        raise AssertionError("sync never ended")

    def of_type(self, entity_type: str) -> dict[int, dict[str, Any]]:
        return {key[1]: data for key, data in self.records.items() if key[0] == entity_type}
