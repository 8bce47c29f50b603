"""FnF's flow attributes (execution mode, role) and the nonces of signed RPC requests.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("execution_mode", sa.String(length=16), nullable=False, server_default="Standard")
        )
        batch_op.add_column(sa.Column("role_arn", sa.Text(), nullable=False, server_default=""))

    op.create_table(
        "request_nonces",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "nonce"),
    )
    with op.batch_alter_table("request_nonces", schema=None) as batch_op:
        batch_op.create_index("ix_request_nonces_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("request_nonces", schema=None) as batch_op:
        batch_op.drop_index("ix_request_nonces_expires_at")
    op.drop_table("request_nonces")
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.drop_column("role_arn")
        batch_op.drop_column("execution_mode")
