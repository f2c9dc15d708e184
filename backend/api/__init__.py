"""HTTP API: blueprints that parse requests, check permissions, call services and serialise answers."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from backend.api import (audit, auth, consents, errors, exports, health, imports, interviews, jobs, jwt_hooks,
                         material_text, materials, notifications, oai, persons, projects, public, redactions, search,
                         stats, sync, transcript_review, transcripts, unit_of_work, uploads, users)
from backend.api.base import init_request_hooks, use_int64_ids
from backend.api.request_body import SmallBodiesFirst
from backend.extensions import jwt
from backend.schemas.common import ErrorSchema

BLUEPRINTS = (health, auth, users, persons, materials, material_text, interviews, jobs, uploads, transcripts, audit,
              consents, notifications, public, redactions, stats, transcript_review, sync, projects, exports, imports,
              search)


def init_app(app: Flask, api: Api) -> None:
    """Bind the API to ``app``: error handlers, token callbacks, blueprints, and the unit of work around each view."""
    api.ERROR_SCHEMA = ErrorSchema
    use_int64_ids(app)
    api.init_app(app)
    errors.init_app(app)
    jwt_hooks.init_jwt(jwt)
    for module in BLUEPRINTS:
        api.register_blueprint(module.blp)
    app.register_blueprint(oai.blp)  # XML, outside the JSON API and its OpenAPI document
    init_request_hooks(app)
    unit_of_work.init_app(app)
    app.wsgi_app = SmallBodiesFirst(app.wsgi_app, app.config)  # type: ignore[method-assign]
