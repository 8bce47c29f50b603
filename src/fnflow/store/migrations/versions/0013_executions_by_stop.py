"""Finished executions by the time they ended: the retention sweeper (``fnflow.retention``) removes
those that ended before a cutoff, a chunk at a time, through this index rather than by reading
every execution.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_executions_status_stopped", "executions", ["status", "stopped_at"])


def downgrade() -> None:
    op.drop_index("ix_executions_status_stopped", table_name="executions")
