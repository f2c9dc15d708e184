"""indexed search terms for persons, composite sort indexes

Revision ID: f497b624b484
Revises: 1c3ca83c9d0d
Create Date: 2026-11-27 14:19:19.545187

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f497b624b484'
down_revision = '1c3ca83c9d0d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('person_search_terms',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('term', sa.String(length=128).with_variant(sa.String(length=128, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_person_search_terms_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', 'term', name=op.f('pk_person_search_terms'))
    )
    with op.batch_alter_table('person_search_terms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_search_terms_term'), ['term'], unique=False)

    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_persons_created_at'))
        batch_op.create_index('ix_persons_created_at', ['created_at', 'id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_persons_name_pinyin'))
        batch_op.create_index('ix_persons_name_pinyin', ['name_pinyin', 'id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_persons_updated_at'))
        batch_op.create_index('ix_persons_updated_at', ['updated_at', 'id'], unique=False)

    _backfill_search_terms()


def _backfill_search_terms():
    """Index the profiles that exist already (the app keeps the terms current from now on)."""
    from backend.services.pinyin import index_terms

    bind = op.get_bind()
    persons = sa.table("persons", sa.column("id", sa.Integer), sa.column("name", sa.String),
                       sa.column("aliases", sa.JSON))
    terms = sa.table("person_search_terms", sa.column("person_id", sa.Integer), sa.column("term", sa.String))
    rows = []
    for person_id, name, aliases in bind.execute(sa.select(persons.c.id, persons.c.name, persons.c.aliases)):
        rows.extend({"person_id": person_id, "term": term} for term in sorted(index_terms(name, aliases or [])))
        if len(rows) >= 5000:
            op.bulk_insert(terms, rows)
            rows = []
    if rows:
        op.bulk_insert(terms, rows)


def downgrade():
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_index('ix_persons_updated_at')
        batch_op.create_index(batch_op.f('ix_persons_updated_at'), ['updated_at'], unique=False)
        batch_op.drop_index('ix_persons_name_pinyin')
        batch_op.create_index(batch_op.f('ix_persons_name_pinyin'), ['name_pinyin'], unique=False)
        batch_op.drop_index('ix_persons_created_at')
        batch_op.create_index(batch_op.f('ix_persons_created_at'), ['created_at'], unique=False)

    with op.batch_alter_table('person_search_terms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_search_terms_term'))

    op.drop_table('person_search_terms')
    # ### end Alembic commands ###
