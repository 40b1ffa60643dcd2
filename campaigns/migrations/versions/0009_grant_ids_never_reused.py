"""grant ids never reused on SQLite: a done-page cookie names its grant by id

SQLite gives a new row the largest id in use plus one, so the id of a grant erased or merged while it
was the newest came back for the next fan, and a cookie naming it opened that fan's page. AUTOINCREMENT
keeps every id ever given out; PostgreSQL's sequence already does.

Revision ID: 0009_grant_ids_never_reused
Revises: 0008_grant_merges
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0009_grant_ids_never_reused"
down_revision = "0008_grant_merges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # the table is rebuilt (SQLite cannot add AUTOINCREMENT in place); `campaigns.store.migrate` runs
    # migrations with foreign keys off, so dropping the old table deletes nothing that references it
    with op.batch_alter_table(
        "grants", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        batch.alter_column("id", autoincrement=True)
    # ids already given out to grants merged away stay given out too
    op.execute("DELETE FROM sqlite_sequence WHERE name = 'grants'")
    op.execute(
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'grants', max("
        "coalesce((SELECT max(id) FROM grants), 0), coalesce((SELECT max(merged_id) FROM grant_merges), 0))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("grants", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
        pass
