"""app pacing: each service app's shared pause and rate, one row per app (every process reads it)

Revision ID: 0007_app_pacing
Revises: 0006_campaign_versions
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_app_pacing"
down_revision = "0006_campaign_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_pacing",
        sa.Column("app", sa.String(length=200), nullable=False),
        sa.Column("rate", sa.Float(), nullable=True),
        sa.Column("set_at", sa.Float(), nullable=False),
        sa.Column("pause_until", sa.Float(), nullable=False),
        sa.Column("quota_until", sa.Float(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("app", name=op.f("pk_app_pacing")),
    )


def downgrade() -> None:
    op.drop_table("app_pacing")
