"""No production function is longer than 50 lines: ruff holds complexity and statements (C90, PLR0912,
PLR0915) but has no rule for length, so this test measures it, from the `def` line to the last line of
the body, over the packages the wheel ships (pyproject's list)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 50

# Longer than LIMIT when the limit came in, each to be split into named helpers. The list only shrinks:
# a function that fits must leave it, and no function may join it.
KNOWN_LONG = {
    "campaigns/ledger.py::claim",
    "campaigns/message_ledger.py::claim",
    "collectors/landing/done.py::complete",
    "collectors/landing/done.py::show",
    "collectors/landing/flows.py::_capture",
    "collectors/landing/flows.py::apple_token",
    "dashboards/charts.py::roster",
    "dashboards/pitch.py::gather",
    "dashboards/screens/comparison.py::render",
    "dashboards/screens/pitch_page.py::render",
    "pipelines/release/assets.py::release_day_actions",
}


def production_packages() -> list[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages: list[str] = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    return packages


def _functions(node: ast.AST, prefix: str) -> list[tuple[str, int]]:
    """(qualified name, lines) of every function under `node`, methods and nested functions too."""
    found = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{prefix}{child.name}"
            if not isinstance(child, ast.ClassDef):
                found.append((name, (child.end_lineno or child.lineno) - child.lineno + 1))
            found += _functions(child, f"{name}.")
        else:
            found += _functions(child, prefix)
    return found


def long_functions() -> dict[str, int]:
    long = {}
    for package in production_packages():
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith("campaigns/migrations/versions/"):  # generated, like ruff's exclude
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
            for name, lines in _functions(tree, ""):
                if lines > LIMIT:
                    long[f"{relative}::{name}"] = lines
    return long


def test_no_production_function_is_longer_than_fifty_lines() -> None:
    new = {name: lines for name, lines in long_functions().items() if name not in KNOWN_LONG}
    listed = ", ".join(f"{name} ({lines})" for name, lines in sorted(new.items()))
    assert not new, f"longer than {LIMIT} lines, split into named helpers: {listed}"


def test_a_known_long_function_that_now_fits_leaves_the_list() -> None:
    fitting = sorted(KNOWN_LONG - long_functions().keys())
    assert not fitting, f"now within {LIMIT} lines, remove from KNOWN_LONG: {', '.join(fitting)}"


def test_the_measure_finds_a_long_method_by_its_qualified_name() -> None:
    body = "\n".join(f"        x{n} = {n}" for n in range(LIMIT))
    tree = ast.parse(f"class Ledger:\n    def claim(self):\n{body}\n    def short(self):\n        pass\n")
    assert dict(_functions(tree, "")) == {"Ledger.claim": LIMIT + 1, "Ledger.short": 2}
