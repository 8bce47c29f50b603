"""Versions: flow versions (each definition a flow has had, numbered; executions name theirs),
service versions (immutable snapshots of a service's functions, their code stored once by
checksum) and aliases (a version, and optionally a second one with a share of the calls), and
the qualifier an asynchronous call names and the version that served it; and the version each
execution's alias resolved to when it first called it (later steps call the same version); and
what a schedule does with ticks it missed (fire the latest once, or skip them).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_versions",
        sa.Column("flow_name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition_hash", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("flow_name", "version"),
    )
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flow_version", sa.Integer(), nullable=True))
    # The definition each flow has now is its version 1.
    op.execute(
        "INSERT INTO flow_versions (flow_name, version, definition_hash, description, created_at)"
        " SELECT name, 1, definition_hash, description, updated_at FROM flows"
    )
    op.create_table(
        "service_versions",
        sa.Column("service", sa.String(length=128), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("service", "version_id"),
    )
    op.create_table(
        "function_versions",
        sa.Column("service", sa.String(length=128), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("runtime", sa.String(length=32), nullable=False),
        sa.Column("handler", sa.String(length=256), nullable=False),
        sa.Column("code_checksum", sa.String(length=64), nullable=False),
        sa.Column("timeout", sa.Float(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("max_instances", sa.Integer(), nullable=False),
        sa.Column("environment", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("service", "version_id", "name"),
    )
    op.create_table(
        "version_code",
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("code", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("checksum"),
    )
    op.create_table(
        "service_aliases",
        sa.Column("service", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("additional_version_id", sa.Integer(), nullable=True),
        sa.Column("additional_weight", sa.Float(), nullable=False),
        sa.Column("reserved_instances", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("service", "name"),
    )
    op.create_table(
        "execution_pins",
        sa.Column("execution_id", sa.String(length=36), nullable=False),
        sa.Column("service", sa.String(length=128), nullable=False),
        sa.Column("qualifier", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("execution_id", "service", "qualifier"),
    )
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("missed_ticks", sa.String(length=16), nullable=False, server_default="fireOnce")
        )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("qualifier", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("version", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("version")
        batch_op.drop_column("qualifier")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_column("missed_ticks")
    op.drop_table("execution_pins")
    op.drop_table("service_aliases")
    op.drop_table("version_code")
    op.drop_table("function_versions")
    op.drop_table("service_versions")
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_column("flow_version")
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.drop_column("version")
    op.drop_table("flow_versions")
