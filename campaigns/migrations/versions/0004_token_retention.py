"""token retention: when a grant's tokens (and email) were deleted, the grant kept as an anonymous count

Revision ID: 0004_token_retention
Revises: 0003_executor
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import campaigns.models

revision = "0004_token_retention"
down_revision = "0003_executor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tokens_deleted_at", campaigns.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_column("tokens_deleted_at")
