"""analytics: every sales line gets a class (product, discount, shipping, fee, adjustment, writeoff)

Revision ID: analytics_0002
Revises: analytics_0001
Create Date: 2026-12-03 16:20:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = 'analytics_0002'
down_revision = 'analytics_0001'
branch_labels = None
depends_on = None

# The Online Retail code table as of this revision (merx.analytics.line_classes), copied so the
# migration does not change when the code does.
_CODES = {
    "shipping": ("POST", "DOT", "C2", "C3"),
    "fee": ("AMAZONFEE", "BANK CHARGES", "CRUK"),
    "discount": ("D",),
    "adjustment": ("M", "m", "ADJUST", "ADJUST2", "B", "S", "PADS", "TEST001", "TEST002"),
}


def upgrade() -> None:
    with op.batch_alter_table('analytics_sales_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('line_class', sa.String(length=16), nullable=False, server_default='product'))
    lines = sa.table('analytics_sales_lines', sa.column('source', sa.String), sa.column('sku', sa.String),
                     sa.column('line_class', sa.String), sa.column('unit_price', sa.String),
                     sa.column('quantity', sa.Integer), sa.column('customer_ref', sa.String),
                     sa.column('line_total_minor', sa.BigInteger))
    for klass, codes in _CODES.items():
        op.execute(lines.update().where(lines.c.source == 'online-retail', lines.c.sku.in_(codes))
                   .values(line_class=klass))
    op.execute(lines.update().where(
        lines.c.source == 'online-retail', lines.c.line_class == 'product', lines.c.line_total_minor == 0,
        sa.or_(lines.c.quantity < 0, lines.c.customer_ref.is_(None))).values(line_class='writeoff'))


def downgrade() -> None:
    with op.batch_alter_table('analytics_sales_lines', schema=None) as batch_op:
        batch_op.drop_column('line_class')
