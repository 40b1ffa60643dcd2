"""The glossary of figures: every figure names a mart column that exists, and the marts job writes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.marts.glossary import FIGURES
from pipelines.schema import TABLES
from pipelines.warehouse import Warehouse
from tests.pipelines.marts_fixtures import build, table


def test_each_figure_has_one_name() -> None:
    keys = [figure.key for figure in FIGURES]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("figure", FIGURES, ids=lambda f: f.key)
def test_each_figure_lives_in_a_column_of_its_mart(figure) -> None:
    assert figure.column in TABLES[figure.mart].column_names
    if figure.series is not None:
        assert "series" in TABLES["first_week_velocity"].column_names


@pytest.mark.parametrize("figure", FIGURES, ids=lambda f: f.key)
def test_each_figure_has_a_label_unit_definition_and_help(figure) -> None:
    assert all((figure.label, figure.unit, figure.definition, figure.help))
    assert figure.display.format(1.5)


def test_the_marts_job_writes_the_glossary_to_the_warehouse(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    build(warehouse, "figure_glossary")
    written = table(warehouse, "SELECT * FROM figure_glossary ORDER BY position")
    assert list(written["figure"]) == [figure.key for figure in FIGURES]
    row = written.set_index("figure").loc["first_week_streams"]
    assert (row["mart"], row["column_name"], row["unit"]) == (
        "campaign_overview",
        "first_week_streams",
        "streams",
    )
