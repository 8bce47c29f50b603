"""Function logs and secrets.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "function_logs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service", sa.String(length=128), nullable=False),
        sa.Column("function", sa.String(length=128), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=8), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("function_logs", schema=None) as batch_op:
        batch_op.create_index("ix_function_logs_function", ["service", "function", "id"], unique=False)
        batch_op.create_index("ix_function_logs_time", ["time"], unique=False)

    op.create_table(
        "secrets",
        sa.Column("service", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("service", "name"),
    )


def downgrade() -> None:
    op.drop_table("secrets")
    with op.batch_alter_table("function_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_function_logs_time")
        batch_op.drop_index("ix_function_logs_function")
    op.drop_table("function_logs")
