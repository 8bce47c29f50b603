"""Function environments (what requirements.txt files resolved to) and layers.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "function_environments",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("python", sa.String(length=128), nullable=False),
        sa.Column("requirements", sa.Text(), nullable=False),
        sa.Column("packages", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("hash"),
    )
    op.create_table(
        "function_layers",
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("code", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("checksum"),
    )


def downgrade() -> None:
    op.drop_table("function_layers")
    op.drop_table("function_environments")
