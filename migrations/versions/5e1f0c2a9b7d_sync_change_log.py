"""change log for offline sync (sync_changes, sync_state), started with every record that exists

Revision ID: 5e1f0c2a9b7d
Revises: 974fc81c9f31
Create Date: 2026-11-28 10:00:00.000000

"""
import secrets
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e1f0c2a9b7d'
down_revision = '974fc81c9f31'
branch_labels = None
depends_on = None

# The synced record types and their tables (backend/models/sync.py SYNCED_TYPES).
_SYNCED_TABLES = (("interview", "interviews"), ("material", "materials"), ("notification", "notifications"),
                  ("person", "persons"))


def upgrade():
    op.create_table('sync_changes',
    sa.Column('entity_type', sa.String(length=16), nullable=False),
    sa.Column('entity_id', sa.BigInteger(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('created_seq', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('entity_type', 'entity_id', name=op.f('pk_sync_changes')),
    sa.UniqueConstraint('seq', name=op.f('uq_sync_changes_seq'))
    )
    op.create_table('sync_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('epoch', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_state'))
    )
    _start_log()


def _start_log():
    """Every record that exists is in the log from the start, so a phone's first full sync finds it."""
    bind = op.get_bind()
    changes = sa.table("sync_changes", sa.column("entity_type", sa.String), sa.column("entity_id", sa.BigInteger),
                       sa.column("seq", sa.BigInteger), sa.column("created_seq", sa.BigInteger),
                       sa.column("kind", sa.String), sa.column("changed_at", sa.DateTime(timezone=True)))
    now = datetime.now(timezone.utc)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # as backend.models.types.UTCDateTime stores it
    seq = 0
    rows = []
    for entity_type, table in _SYNCED_TABLES:
        ids = sa.table(table, sa.column("id", sa.Integer))
        for (entity_id,) in bind.execute(sa.select(ids.c.id).order_by(ids.c.id)):
            seq += 1
            rows.append({"entity_type": entity_type, "entity_id": entity_id, "seq": seq, "created_seq": seq,
                         "kind": "upsert", "changed_at": now})
            if len(rows) >= 5000:
                op.bulk_insert(changes, rows)
                rows = []
    if rows:
        op.bulk_insert(changes, rows)
    state = sa.table("sync_state", sa.column("id", sa.Integer), sa.column("last_seq", sa.BigInteger),
                     sa.column("epoch", sa.String))
    op.bulk_insert(state, [{"id": 1, "last_seq": seq, "epoch": secrets.token_hex(16)}])


def downgrade():
    op.drop_table('sync_state')
    op.drop_table('sync_changes')
