"""reminder pre-saves: where each campaign's release opens on a service, for the release-day reminder

A reminder pre-save is a grant row with status `reminder` (no token; the fan's sealed email, a consent
record, the chosen service), so erasure, consent, unsubscribe and the message ledger treat it like any
fan; its release-day message carries a tracked link to the release on the chosen service, kept here.

Revision ID: 0010_reminders
Revises: 0009_grant_ids_never_reused
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0010_reminders"
down_revision = "0009_grant_ids_never_reused"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "release_links",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_release_links_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "service", name=op.f("pk_release_links")),
    )


def downgrade() -> None:
    op.drop_table("release_links")
