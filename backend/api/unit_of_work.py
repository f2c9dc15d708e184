"""The request boundary: every view runs as one unit of work, committed once when it returns and rolled back
when it raises; a POST with an Idempotency-Key stores its answer in that same transaction."""

from __future__ import annotations

import functools
from typing import Any, Callable

from flask import Flask, Response, current_app, request
from flask_jwt_extended import current_user, verify_jwt_in_request
from sqlalchemy.exc import IntegrityError

from backend import transaction
from backend.services import idempotency

# Blueprints whose POSTs never replay by Idempotency-Key (logging in again must check the password again).
NO_REPLAY_BLUEPRINTS = ("auth",)


def _replay(stored: idempotency.StoredResponse) -> Response:
    response = Response(stored.body, status=stored.status_code, headers=stored.headers)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _idempotency_key(view: Callable[..., Any]) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None or request.method != "POST" or not request.path.startswith("/api/v1/"):
        return None
    if getattr(view, "_liufang_skip_idempotency", False) or request.blueprint in NO_REPLAY_BLUEPRINTS:
        return None
    return key


def _run(view: Callable[..., Any], args: Any, kwargs: Any) -> Response:
    raw_key = _idempotency_key(view)
    if raw_key is None:
        with transaction.atomic():
            return current_app.make_response(view(*args, **kwargs))
    verify_jwt_in_request()
    key = idempotency.check_key(raw_key)
    user_id = current_user.id
    fingerprint = idempotency.fingerprint(request.method, request.full_path, request.get_data(cache=True))
    try:
        with transaction.atomic():
            stored = idempotency.begin(user_id, key, fingerprint)
            if stored is not None:
                return _replay(stored)
            response = current_app.make_response(view(*args, **kwargs))
            if 200 <= response.status_code < 300 and not response.is_streamed:
                idempotency.store(user_id, key, request.method, request.full_path, fingerprint,
                                  response.status_code, dict(response.headers), response.get_data())
            return response
    except IntegrityError:
        # An overlapping attempt with the same key committed first; this one left no trace. Answer as it did.
        with transaction.atomic():
            stored = idempotency.stored_response(user_id, key, fingerprint)
        if stored is None:
            raise
        return _replay(stored)


def unit_of_work(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        return _run(view, args, kwargs)

    return wrapper


def init_app(app: Flask) -> None:
    """Wrap every registered view (call after the blueprints are registered)."""
    for endpoint, view in list(app.view_functions.items()):
        if not getattr(view, "_liufang_unit_of_work", False):
            wrapped = unit_of_work(view)
            wrapped._liufang_unit_of_work = True  # type: ignore[attr-defined]
            app.view_functions[endpoint] = wrapped
