"""Built-in queues and topics: queues, their messages, topics, subscriptions, published message ids.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queues",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("visibility_timeout", sa.Float(), nullable=False),
        sa.Column("delay_seconds", sa.Float(), nullable=False),
        sa.Column("maximum_message_size", sa.Integer(), nullable=False),
        sa.Column("message_retention_period", sa.Float(), nullable=False),
        sa.Column("polling_wait_seconds", sa.Float(), nullable=False),
        sa.Column("max_receive_count", sa.Integer(), nullable=True),
        sa.Column("dead_letter_queue", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "queue_messages",
        sa.Column("queue", sa.String(length=128), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_md5", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("keyed", sa.Boolean(), nullable=False),
        sa.Column("enqueued_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("first_dequeued_at", sa.Float(), nullable=True),
        sa.Column("dequeue_count", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.CheckConstraint("status IN ('Active', 'Deleted')", name="ck_queue_messages_status"),
        sa.PrimaryKeyConstraint("queue", "id"),
    )
    with op.batch_alter_table("queue_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_queue_messages_claim", ["queue", "status", "priority", "enqueued_at"], unique=False
        )
        batch_op.create_index("ix_queue_messages_visible", ["queue", "status", "lease_until"], unique=False)
        batch_op.create_index("ix_queue_messages_expires", ["expires_at"], unique=False)

    op.create_table(
        "topics",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("maximum_message_size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("topic", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("filter_tag", sa.String(length=16), nullable=True),
        sa.Column("notify_strategy", sa.String(length=32), nullable=False),
        sa.Column("notify_content_format", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "notify_strategy IN ('BACKOFF_RETRY', 'EXPONENTIAL_DECAY_RETRY')",
            name="ck_subscriptions_notify_strategy",
        ),
        sa.CheckConstraint(
            "notify_content_format IN ('JSON', 'XML', 'SIMPLIFIED')",
            name="ck_subscriptions_notify_content_format",
        ),
        sa.PrimaryKeyConstraint("topic", "name"),
    )
    op.create_table(
        "topic_messages",
        sa.Column("topic", sa.String(length=128), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("body_md5", sa.String(length=32), nullable=False),
        sa.Column("tag", sa.String(length=16), nullable=True),
        sa.Column("published_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "id"),
    )
    with op.batch_alter_table("topic_messages", schema=None) as batch_op:
        batch_op.create_index("ix_topic_messages_expires", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("topic_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_topic_messages_expires")
    op.drop_table("topic_messages")
    op.drop_table("subscriptions")
    op.drop_table("topics")
    with op.batch_alter_table("queue_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_messages_expires")
        batch_op.drop_index("ix_queue_messages_visible")
        batch_op.drop_index("ix_queue_messages_claim")
    op.drop_table("queue_messages")
    op.drop_table("queues")
