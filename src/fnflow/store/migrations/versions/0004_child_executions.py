"""Child executions (parent, depth, the token to report at the end), the calls of a task step, and
CHECK constraints on the status columns of executions and calls.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

EXECUTION_STATUSES = ("Running", "Succeeded", "Failed", "TimedOut", "Stopped")
CALL_STATUSES = ("Enqueued", "Running", "Retrying", "Succeeded", "Failed", "Stopping", "Stopped", "Expired")


def _one_of(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    # batch mode: SQLite cannot add a CHECK constraint in place, so the table is copied (rows kept).
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("parent_activity", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("depth", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("callback_token", sa.Text(), nullable=True))
        batch_op.create_check_constraint("ck_executions_status", _one_of(EXECUTION_STATUSES))
        batch_op.create_index("ix_executions_parent", ["parent_id"], unique=False)
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_check_constraint("ck_calls_status", _one_of(CALL_STATUSES))
        batch_op.create_index("ix_calls_task", ["task_execution", "task_activity"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_task")
        batch_op.drop_constraint("ck_calls_status", type_="check")
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index("ix_executions_parent")
        batch_op.drop_constraint("ck_executions_status", type_="check")
        batch_op.drop_column("callback_token")
        batch_op.drop_column("depth")
        batch_op.drop_column("parent_activity")
        batch_op.drop_column("parent_id")
