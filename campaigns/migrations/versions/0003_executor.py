"""executor: claims, retry moments and resolved targets on owed actions; planning mark on grants

Revision ID: 0003_executor
Revises: 0002_landing
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaigns.models

revision = "0003_executor"
down_revision = "0002_landing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("owed_actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempt_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("retry_at", campaigns.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("resolved_target", sa.String(length=300), nullable=True))
        batch_op.create_index(
            "ix_owed_actions_campaign_outcome_grant", ["campaign_id", "outcome", "grant_id"], unique=False
        )
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("planned_at", campaigns.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_column("planned_at")
    with op.batch_alter_table("owed_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_owed_actions_campaign_outcome_grant")
        batch_op.drop_column("resolved_target")
        batch_op.drop_column("retry_at")
        batch_op.drop_column("attempt_id")
