"""side doors: a material per uploader and hash (the same bytes may back several, sharing one stored original),
client_uuid unique per creator, interview-scoped consents stay scoped when their interview is deleted

Revision ID: 974fc81c9f31
Revises: 2e43ce2fa195
Create Date: 2026-11-28 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '974fc81c9f31'
down_revision = '2e43ce2fa195'
branch_labels = None
depends_on = None


def _sqlite_foreign_keys(enabled: bool) -> None:
    """SQLite drops a constraint by rebuilding the table (copy, DROP, rename). With foreign keys enforced, that
    DROP would run the ON DELETE actions of every row referring to the table (deleting derivatives, person links,
    transcripts, consents). The pragma only takes effect outside a transaction, so what is open is committed first
    (DDL through pysqlite is committed as it runs anyway); the rebuilt tables keep their ids, which the check
    afterwards confirms."""
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
    _sqlite_foreign_keys(False)
    with op.batch_alter_table('materials', schema=None) as batch_op:
        batch_op.drop_constraint('uq_materials_sha256', type_='unique')
        batch_op.create_unique_constraint('uq_materials_collector_sha256', ['collector_id', 'sha256'])
        batch_op.create_index(batch_op.f('ix_materials_sha256'), ['sha256'], unique=False)

    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_constraint('uq_persons_client_uuid', type_='unique')
        batch_op.create_unique_constraint('uq_persons_creator_client_uuid', ['created_by_id', 'client_uuid'])

    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('interview_scoped', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute(sa.text("UPDATE consents SET interview_scoped = :scoped WHERE interview_id IS NOT NULL")
               .bindparams(scoped=True))
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_consents_interview_scope'),
                                         'interview_id IS NULL OR interview_scoped')
    _sqlite_foreign_keys(True)


def downgrade():
    # Fails where two uploaders hold materials of the same bytes, or two creators the same client_uuid.
    _sqlite_foreign_keys(False)
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_consents_interview_scope'), type_='check')
        batch_op.drop_column('interview_scoped')

    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_constraint('uq_persons_creator_client_uuid', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_persons_client_uuid'), ['client_uuid'])

    with op.batch_alter_table('materials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_materials_sha256'))
        batch_op.drop_constraint('uq_materials_collector_sha256', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_materials_sha256'), ['sha256'])
    _sqlite_foreign_keys(True)
