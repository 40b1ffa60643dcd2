"""campaign versions: the change history of each campaign's file (who, when, the whole spec)

Revision ID: 0006_campaign_versions
Revises: 0005_messages
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaigns.models

revision = "0006_campaign_versions"
down_revision = "0005_messages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_by", sa.String(length=100), nullable=False),
        sa.Column("changed_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_versions_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_versions")),
        sa.UniqueConstraint("campaign_id", "version", name=op.f("uq_campaign_versions_campaign_id_version")),
    )
    # Campaigns made before the history existed start it as their version 1.
    op.execute(
        "INSERT INTO campaign_versions (campaign_id, version, changed_by, changed_at, spec) "
        "SELECT id, 1, 'before history', created_at, spec FROM campaigns"
    )


def downgrade() -> None:
    op.drop_table("campaign_versions")
