"""Executions of a flow by start time: listing a flow's executions, newest first (``GET
/flows/{flow}/executions`` without a status), read the whole table and sorted it — 116 ms at
100,000 executions (bench/scale.py); the index serves the page in order.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_executions_flow_started", "executions", ["flow_name", "started_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_executions_flow_started", table_name="executions")
