"""instore: when an assisted order's payment link was last sent (its validity runs from then)

Revision ID: instore_0003
Revises: instore_0002
Create Date: 2026-12-04 18:30:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import merx.core.db

revision = 'instore_0003'
down_revision = 'instore_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: never re-sent, so the link was issued with the order (created_at)
    with op.batch_alter_table('instore_assisted_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payment_link_issued_at', merx.core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('instore_assisted_orders', schema=None) as batch_op:
        batch_op.drop_column('payment_link_issued_at')
