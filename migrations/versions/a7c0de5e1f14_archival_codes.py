"""archival reference codes (档号): counters per series, archival_code on persons and interviews, interview approval

Revision ID: a7c0de5e1f14
Revises: 8c4d2e6f1a3b
Create Date: 2026-12-02 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c0de5e1f14'
down_revision = '8c4d2e6f1a3b'
branch_labels = None
depends_on = None


def _code():
    return sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql")


def _sqlite_foreign_keys(enabled: bool) -> None:
    """As in 974fc81c9f31: SQLite adds these constraints by rebuilding the table, and with foreign keys enforced
    the DROP of the old table would run the ON DELETE actions of every row referring to it (tags, search terms,
    links, consents). The pragma only works outside a transaction, so what is open is committed first."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    bind.connection.commit()
    if enabled:
        problems = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"foreign keys broken by the rebuild: {problems[:5]}")
    bind.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")
    if not enabled and bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("could not switch SQLite foreign keys off for the table rebuild")


def upgrade():
    op.create_table('archival_counters',
    sa.Column('series', _code(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('series', name=op.f('pk_archival_counters'))
    )
    _sqlite_foreign_keys(False)
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('archival_code', _code(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_persons_archival_code'), ['archival_code'])

    with op.batch_alter_table('interviews', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('approved_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('archival_code', _code(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_interviews_archival_code'), ['archival_code'])
        batch_op.create_foreign_key(batch_op.f('fk_interviews_approved_by_id_users'), 'users',
                                    ['approved_by_id'], ['id'])
    _sqlite_foreign_keys(True)


def downgrade():
    _sqlite_foreign_keys(False)
    with op.batch_alter_table('interviews', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_interviews_approved_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_interviews_archival_code'), type_='unique')
        batch_op.drop_column('archival_code')
        batch_op.drop_column('approved_by_id')
        batch_op.drop_column('approved_at')

    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_persons_archival_code'), type_='unique')
        batch_op.drop_column('archival_code')

    _sqlite_foreign_keys(True)
    op.drop_table('archival_counters')
