"""Re-sealing every sealed column with the newest Fernet key, so older keys can be removed.

Sealed values: grants' access and refresh tokens and emails, authorization attempts' PKCE verifiers.
The work goes by id in batches, one transaction each. A value already sealed with the newest key is left
alone, so a run killed half-way is resumed by running it again: nothing is sealed twice and nothing is
skipped. Each update names the value it replaces, so a token the executor refreshed meanwhile is never
overwritten with its stale predecessor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, and_, bindparam, func, or_, select, update

from campaigns.models import AuthorizationAttempt, Grant
from campaigns.store import Store
from campaigns.vault import TokenVault, VaultError

SEALED_COLUMNS: dict[Table, tuple[str, ...]] = {
    Grant.__table__: ("access_token", "refresh_token", "email"),  # type: ignore[dict-item]
    AuthorizationAttempt.__table__: ("code_verifier",),  # type: ignore[dict-item]
}


@dataclass
class RotationReport:
    rows: int = 0
    resealed: int = 0
    current: int = 0  # already sealed with the newest key
    unreadable: dict[str, int] = field(default_factory=dict)  # "table.column" -> values no key opens

    @property
    def complete(self) -> bool:
        return not self.unreadable

    def describe(self) -> str:
        text = f"{self.rows} rows examined: {self.resealed} values re-sealed, {self.current} already current"
        if self.unreadable:
            where = ", ".join(f"{place} {n}" for place, n in sorted(self.unreadable.items()))
            text += f"; {sum(self.unreadable.values())} could not be opened with any key ({where})"
        return text


def rows_to_examine(store: Store) -> int:
    with store.engine.connect() as connection:
        return sum(
            connection.scalar(select(func.count()).select_from(table).where(_any_sealed(table, columns))) or 0
            for table, columns in SEALED_COLUMNS.items()
        )


def rotate_keys(
    store: Store,
    vault: TokenVault,
    *,
    batch_size: int = 500,
    pause_s: float = 0.0,
    on_batch: Callable[[int], None] | None = None,
) -> RotationReport:
    """Re-seal every sealed value that the newest key does not open; `on_batch(rows)` after each commit.
    `pause_s` between batches spares a busy production store."""
    report = RotationReport()
    for table, columns in SEALED_COLUMNS.items():
        last_id = 0
        while True:
            with store.engine.begin() as connection:
                rows = connection.execute(
                    select(table.c.id, *(table.c[c] for c in columns))
                    .where(table.c.id > last_id, _any_sealed(table, columns))
                    .order_by(table.c.id)
                    .limit(batch_size)
                ).all()
                if not rows:
                    break
                for column in columns:
                    changes = _reseal(vault, table, column, rows, columns.index(column) + 1, report)
                    if changes:
                        connection.execute(
                            update(table)
                            .where(table.c.id == bindparam("id_"), table.c[column] == bindparam("old_"))
                            .values({column: bindparam("new_")}),
                            changes,
                        )
            last_id = rows[-1][0]
            report.rows += len(rows)
            if on_batch:
                on_batch(len(rows))
            if pause_s:
                time.sleep(pause_s)
    return report


def _any_sealed(table: Table, columns: tuple[str, ...]) -> ColumnElement[bool]:
    return or_(*(and_(table.c[c].is_not(None), table.c[c] != "") for c in columns))


def _reseal(
    vault: TokenVault,
    table: Table,
    column: str,
    rows: Sequence[Row[Any]],
    position: int,
    report: RotationReport,
) -> list[dict[str, object]]:
    changes = []
    for row in rows:
        sealed = row[position]
        if not sealed:
            continue
        if vault.is_current(sealed):
            report.current += 1
            continue
        try:
            changes.append({"id_": row[0], "old_": sealed, "new_": vault.reseal(sealed)})
        except VaultError:
            place = f"{table.name}.{column}"
            report.unreadable[place] = report.unreadable.get(place, 0) + 1
    report.resealed += len(changes)
    return changes
