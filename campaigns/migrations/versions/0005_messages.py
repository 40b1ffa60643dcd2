"""messages: the fan message ledger (release-day message, re-ask)

Revision ID: 0005_messages
Revises: 0004_token_retention
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaigns.models

revision = "0005_messages"
down_revision = "0004_token_retention"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "fan_messages",
        sa.Column("id", BigId, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("grant_id", BigId, nullable=False),
        sa.Column("service", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("recipient_key", sa.String(length=32), nullable=False),
        sa.Column("due_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", campaigns.models.UTCDateTime(), nullable=True),
        sa.Column("attempt_id", sa.String(length=40), nullable=True),
        sa.Column("retry_at", campaigns.models.UTCDateTime(), nullable=True),
        sa.Column("done_at", campaigns.models.UTCDateTime(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("created_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_fan_messages_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["grants.id"], name=op.f("fk_fan_messages_grant_id_grants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fan_messages")),
        sa.UniqueConstraint(
            "campaign_id", "kind", "recipient_key", name=op.f("uq_fan_messages_campaign_id_kind_recipient_key")
        ),
    )
    op.create_index("ix_fan_messages_outcome_due", "fan_messages", ["outcome", "due_at"], unique=False)
    op.create_index("ix_fan_messages_grant_id", "fan_messages", ["grant_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_fan_messages_grant_id", table_name="fan_messages")
    op.drop_index("ix_fan_messages_outcome_due", table_name="fan_messages")
    op.drop_table("fan_messages")
