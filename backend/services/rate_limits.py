"""Request rate limits counted in the database, so that every API process (and every machine) shares one count."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import case, literal
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from backend.extensions import db
from backend.models import RateLimitCounter
from backend.models.types import UTCDateTime, utcnow

CLIENT_KEY_LENGTH = 64


def hit(scope: str, client: str, count: int, period: float) -> float | None:
    """Count one request of ``client``: None while it is within ``count`` requests in its window of ``period``
    seconds, else the seconds until its window ends.

    One atomic upsert per request (INSERT … ON CONFLICT DO UPDATE … RETURNING, on SQLite and PostgreSQL alike), so
    concurrent requests in any process never lose a count. A window starts with the client's first request after
    the previous window ended (fixed windows: at most ``count`` in each, up to twice that across a boundary).
    """
    now = utcnow()
    new_end = now + timedelta(seconds=period)
    table = RateLimitCounter.__table__
    insert = postgresql_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    at_now = literal(now, UTCDateTime())
    expired = table.c.window_end <= at_now
    statement = (insert(table)
                 .values(scope=f"{scope}/{period:g}s"[:32], client=client[:CLIENT_KEY_LENGTH], count=1,
                         window_end=new_end))
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.scope, table.c.client],
        set_={"count": case((expired, 1), else_=table.c.count + 1),
              "window_end": case((expired, statement.excluded.window_end), else_=table.c.window_end)},
    ).returning(table.c.count, table.c.window_end)
    counted, window_end = db.session.execute(statement).one()
    if counted <= count:
        return None
    return max(0.0, (window_end - now).total_seconds())
