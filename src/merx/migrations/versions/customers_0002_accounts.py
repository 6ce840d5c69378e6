"""customers: storefront accounts, their sessions and mail tokens, address book, saved carts

Revision ID: customers_0002
Revises: customers_0001
Create Date: 2026-12-03 19:50:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
import merx.core.db

revision = 'customers_0002'
down_revision = 'customers_0001'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_TS = merx.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('customer_accounts',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=True),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('first_name', sa.String(length=120), nullable=True),
    sa.Column('last_name', sa.String(length=120), nullable=True),
    sa.Column('locale', sa.String(length=8), nullable=True),
    sa.Column('email_verified_at', _TS, nullable=True),
    sa.Column('password_changed_at', _TS, nullable=True),
    sa.Column('last_sign_in_at', _TS, nullable=True),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('updated_at', _TS, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_accounts')),
    sa.UniqueConstraint('customer_id', name=op.f('uq_customer_accounts_customer_id')),
    sa.UniqueConstraint('email', name=op.f('uq_customer_accounts_email'))
    )
    op.create_table('customer_account_tokens',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('account_id', _ID, nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', _TS, nullable=False),
    sa.Column('used_at', _TS, nullable=True),
    sa.Column('created_at', _TS, nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['customer_accounts.id'],
                            name=op.f('fk_customer_account_tokens_account_id_customer_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_account_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_customer_account_tokens_token_hash'))
    )
    with op.batch_alter_table('customer_account_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_account_tokens_account_id'), ['account_id'], unique=False)
    op.create_table('customer_account_sessions',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('account_id', _ID, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('last_seen_at', _TS, nullable=False),
    sa.Column('expires_at', _TS, nullable=False),
    sa.Column('revoked_at', _TS, nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['customer_accounts.id'],
                            name=op.f('fk_customer_account_sessions_account_id_customer_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_account_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_customer_account_sessions_token_hash'))
    )
    with op.batch_alter_table('customer_account_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_account_sessions_account_id'), ['account_id'], unique=False)
    op.create_table('customer_addresses',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('label', sa.String(length=60), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('company', sa.String(length=200), nullable=True),
    sa.Column('line1', sa.String(length=200), nullable=False),
    sa.Column('line2', sa.String(length=200), nullable=True),
    sa.Column('city', sa.String(length=120), nullable=False),
    sa.Column('postal_code', sa.String(length=20), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('default_shipping', sa.Boolean(), nullable=False),
    sa.Column('default_billing', sa.Boolean(), nullable=False),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('updated_at', _TS, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_addresses'))
    )
    with op.batch_alter_table('customer_addresses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_addresses_customer_id'), ['customer_id'], unique=False)
    op.create_table('customer_saved_carts',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('lines', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', _TS, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_saved_carts'))
    )
    with op.batch_alter_table('customer_saved_carts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_saved_carts_customer_id'), ['customer_id'], unique=False)


def downgrade() -> None:
    for table, index in (('customer_saved_carts', 'customer_id'), ('customer_addresses', 'customer_id'),
                         ('customer_account_sessions', 'account_id'), ('customer_account_tokens', 'account_id')):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_{index}'))
        op.drop_table(table)
    op.drop_table('customer_accounts')
