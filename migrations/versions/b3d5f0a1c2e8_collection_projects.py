"""collection projects (采集项目, DA/T 59): projects, their narrators and collectors; project_id on interviews and
materials

Revision ID: b3d5f0a1c2e8
Revises: a7c0de5e1f14
Create Date: 2026-12-02 15:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3d5f0a1c2e8'
down_revision = 'a7c0de5e1f14'
branch_labels = None
depends_on = None


def _sqlite_foreign_keys(enabled: bool) -> None:
    """As in 974fc81c9f31: SQLite adds a foreign key by rebuilding the table, and with foreign keys enforced the
    DROP of the old table would run the ON DELETE actions of every row referring to it. The pragma only works
    outside a transaction, so what is open is committed first."""
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
    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('background', sa.Text(), nullable=False),
    sa.Column('planned_start', sa.Date(), nullable=True),
    sa.Column('planned_end', sa.Date(), nullable=True),
    sa.Column('place', sa.String(length=255), nullable=True),
    sa.Column('methods', sa.JSON(), nullable=False),
    sa.Column('budget', sa.String(length=255), nullable=True),
    sa.Column('equipment', sa.Text(), nullable=False),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_projects_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects'))
    )
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_projects_status'), ['status'], unique=False)

    op.create_table('project_collectors',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_collectors_project_id_projects'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_project_collectors_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'user_id', name=op.f('pk_project_collectors'))
    )
    with op.batch_alter_table('project_collectors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_collectors_user_id'), ['user_id'], unique=False)

    op.create_table('project_persons',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_project_persons_person_id_persons'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_persons_project_id_projects'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'person_id', name=op.f('pk_project_persons'))
    )
    with op.batch_alter_table('project_persons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_persons_person_id'), ['person_id'], unique=False)

    _sqlite_foreign_keys(False)
    for table in ('interviews', 'materials'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('project_id', sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f(f'ix_{table}_project_id'), ['project_id'], unique=False)
            batch_op.create_foreign_key(batch_op.f(f'fk_{table}_project_id_projects'), 'projects',
                                        ['project_id'], ['id'])
    _sqlite_foreign_keys(True)


def downgrade():
    _sqlite_foreign_keys(False)
    for table in ('materials', 'interviews'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_project_id_projects'), type_='foreignkey')
            batch_op.drop_index(batch_op.f(f'ix_{table}_project_id'))
            batch_op.drop_column('project_id')
    _sqlite_foreign_keys(True)
    with op.batch_alter_table('project_persons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_persons_person_id'))
    op.drop_table('project_persons')
    with op.batch_alter_table('project_collectors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_collectors_user_id'))
    op.drop_table('project_collectors')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_projects_status'))
    op.drop_table('projects')
