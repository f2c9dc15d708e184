"""HTTP API: blueprints that parse requests, check roles, call services and serialise answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.api.base import LiufangApi


def register_blueprints(api: "LiufangApi") -> None:
    from backend.api import (audit, auth, consents, health, interviews, jobs, materials, notifications, persons,
                             public, redactions, stats, transcript_review, transcripts, uploads, users)

    for module in (health, auth, users, persons, materials, interviews, jobs, uploads, transcripts, audit, consents,
                   notifications, public, redactions, stats, transcript_review):
        api.register_blueprint(module.blp)
