"""Bad export files: each gets an ExportError naming the file, the exact line and the problem."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from exports_files import DISTROKID_CURRENT, PRESAVE_FANS, write_rows, write_text

from collectors.exports import ExportError, detect_kind, iter_export, read_export

AUDIENCE_HEADER = "date,listeners,streams,followers"


def read_error(path: Path) -> ExportError:
    with pytest.raises(ExportError) as caught:
        read_export(path)
    error = caught.value
    assert error.path == path
    assert str(path) in str(error)
    assert error.problem in str(error)
    return error


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        ("2025-03-01,1,2,3\n2025-02-30,1,2,3\n", 3, "bad date '2025-02-30' in column date"),
        ("2025-03-01,1,2,3\n2025-13-01,1,2,3\n", 3, "bad date '2025-13-01' in column date"),
        ("2025-03-01,1,2,3\n03/01/2025x,1,2,3\n", 3, "bad date '03/01/2025x' in column date"),
        ("2025-03-01,1,-5,3\n", 2, "impossible value -5 in column streams: cannot be negative"),
        (
            "2025-03-01,1,2,3\n2025-03-02,-1,2,3\n",
            3,
            "impossible value -1 in column listeners: cannot be negative",
        ),
        ("2025-03-01,12a,2,3\n", 2, "non-numeric value '12a' in column listeners"),
        ("2025-03-01,1,2,3\n2025-03-02,1,2.5,3\n", 3, "not a whole number '2.5' in column streams"),
        ("2025-03-01,1,2,3\n,1,2,3\n", 3, "missing value in column date"),
        ("2025-03-01,1,2,3\n2025-03-02,1,2\n2025-03-03,1,2,3\n", 3, "row has 3 fields, the header has 4"),
        (
            "2025-03-01,1,2,3\n2025-03-02,1,2,3,4\n",
            3,
            "row has 5 fields, the header has 4 (an unquoted delimiter inside a value?)",
        ),
        (
            "2025-03-01,1,2,3\n2025-03-02,1,2,3\n2025-03-03,1\n",
            4,
            "truncated file: the last row has 2 of 4 fields",
        ),
    ],
)
def test_bad_values_and_rows(tmp_path: Path, body: str, line: int, problem: str) -> None:
    path = write_text(tmp_path / "Nova Lane-audience-timeline.csv", f"{AUDIENCE_HEADER}\n{body}")
    error = read_error(path)
    assert (error.line, error.problem) == (line, problem)
    assert str(error) == f"{path}: line {line}: {problem}"


@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_line_numbers_count_blank_lines_and_multi_line_values(tmp_path: Path, line_end: str) -> None:
    lines = [
        "song,listeners,streams,saves,release_date",
        "",
        '"A song whose title',
        "runs over",
        'three lines",1,2,3,2025-01-01',
        "",
        "Plain,4,5,6,2025-01-02",
        "Broken,4,five,6,2025-01-03",
    ]
    path = write_text(tmp_path / "songs.csv", line_end.join(lines) + line_end)
    error = read_error(path)
    assert (error.line, error.problem) == (8, "non-numeric value 'five' in column streams")


def test_unbalanced_quote_names_the_line_it_opens_on(tmp_path: Path) -> None:
    text = (
        "song,listeners,streams,saves,release_date\n"
        "Plain,1,2,3,2025-01-01\n"
        '"Néon Skyline,310,902,41,2025-02-14\n'
        "Other,1,2,3,2025-01-01\n"
    )
    error = read_error(write_text(tmp_path / "songs.csv", text))
    assert error.line == 3
    assert (
        error.problem
        == "unbalanced quotes: the quoted value opened on line 3 is never closed (truncated file?)"
    )


def test_quote_closed_by_a_later_stray_quote(tmp_path: Path) -> None:
    header = "song,listeners,streams,saves,release_date\n"
    text = header + '"Cut,1,2,3,2025-01-01\nNext,1,2,3,2025-01-02\nAgain",1,2,3\nLast,1,2,3,2025-01-04\n'
    error = read_error(write_text(tmp_path / "songs.csv", text))
    assert error.line == 2
    assert error.problem == "row has 4 fields, the header has 5 (a quoted value runs from line 2 to 4)"
    text = header + '"Cut,1,2,3,2025-01-01\nNext,1,2,3,2025-01-02\n"Again",1,2,3,2025-01-03\n'
    error = read_error(write_text(tmp_path / "songs.csv", text))
    assert error.line == 2
    assert (
        error.problem
        == "malformed quoting: a quoted value opened on line 2 closes on line 4 before more text"
    )


def test_text_after_a_closing_quote(tmp_path: Path) -> None:
    # An odd number of quotes in the file (here a truncated last line) sends it through the strict scan,
    # which reports the first quoting fault it meets.
    header = "song,listeners,streams,saves,release_date\n"
    text = header + 'Plain,1,2,3,2025-01-01\n"Neon" Skyline,1,2,3,2025-01-02\n"Cut'
    error = read_error(write_text(tmp_path / "songs.csv", text))
    assert (error.line, error.problem) == (
        3,
        "malformed quoting: text follows a closing quote inside a value",
    )


def test_distrokid_truncated_last_line(tmp_path: Path) -> None:
    path = write_rows(
        tmp_path / "bank.tsv", DISTROKID_CURRENT, delimiter="\t", line_end="\r", encoding="latin-1"
    )
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b"\t", 0, len(data) - 20)])  # cut in the middle of the last row
    error = read_error(path)
    assert error.line == 3
    assert error.problem.startswith("truncated file: the last row has ")
    assert error.problem.endswith(" of 15 fields")


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("Team Percentage", "150", "impossible value 150.0 in column team_percentage: above 100"),
        ("Earnings (USD)", "1,2,3", "non-numeric value '1,2,3' in column earnings_usd"),
        ("Sale Month", "2026-14", "bad month '2026-14' in column sale_month"),
        ("Reporting Date", "yesterday", "bad date 'yesterday' in column reporting_date"),
        ("UPC", "1.9888E+11", "upc '1.9888E+11' was turned into scientific notation by a spreadsheet"),
        ("Quantity", "many", "non-numeric value 'many' in column quantity"),
    ],
)
def test_distrokid_bad_cells(tmp_path: Path, column: str, value: str, problem: str) -> None:
    rows = [list(row) for row in DISTROKID_CURRENT]
    rows[2][rows[0].index(column)] = value
    error = read_error(write_rows(tmp_path / "bank.tsv", rows, delimiter="\t", quote_all=True))
    assert (error.line, error.problem) == (3, problem)


@pytest.mark.parametrize(
    "content",
    [b"", b"\xef\xbb\xbf", b"\n\r\n  \n", b"\xff\xfe"],
    ids=["zero-bytes", "bom-only", "blank", "utf16-bom"],
)
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    error = read_error(path)
    assert (error.line, error.problem) == (None, "empty file: no header and no rows")
    assert str(error) == f"{path}: whole file: empty file: no header and no rows"
    with pytest.raises(ExportError):
        detect_kind(path)


def test_unknown_header(tmp_path: Path) -> None:
    path = write_text(tmp_path / "Nova Lane-audience-timeline.csv", "day,plays\n2025-03-01,4\n")
    error = read_error(path)
    assert error.line == 1
    assert error.problem.startswith("unknown header ['day', 'plays']: it matches no known export layout.")
    assert "s4a_audience_timeline (date, listeners, streams)" in error.problem
    with pytest.raises(ExportError) as caught:
        detect_kind(path)
    assert caught.value.line == 1


def test_ambiguous_header(tmp_path: Path) -> None:
    error = read_error(write_text(tmp_path / "x.csv", "Date,Listeners,Service\n2025-03-01,4,spotify\n"))
    assert error.line == 1
    assert error.problem.startswith("ambiguous header: it fits ")
    assert "presave_fans" in error.problem
    assert "amfa_listeners" in error.problem


def test_utf8_mark_with_invalid_bytes(tmp_path: Path) -> None:
    path = tmp_path / "a-audience-timeline.csv"
    path.write_bytes(
        b"\xef\xbb\xbfdate,listeners,streams,followers\n2025-03-01,1,2,3\n2025-03-02,1,2,3\xe9\n"
    )
    error = read_error(path)
    assert error.line == 3
    assert error.problem.startswith("not valid UTF-8")


def test_email_cells_never_reach_a_message(tmp_path: Path) -> None:
    rows = [list(row) for row in PRESAVE_FANS]
    rows[3][0] = "ada@example.com"  # a shifted row: the email sits in the date column
    error = read_error(write_rows(tmp_path / "fans.csv", rows))
    assert error.line == 4
    assert error.problem == "bad date <withheld: looks like an email address> in column presaved_at"
    assert "@" not in str(error)
    headerless = write_rows(tmp_path / "fans2.csv", rows[1:])
    error = read_error(headerless)
    assert error.line == 1
    assert "@" not in str(error)


def test_unknown_country(tmp_path: Path) -> None:
    rows = [list(row) for row in PRESAVE_FANS]
    rows[2][4] = "Narnia"
    error = read_error(write_rows(tmp_path / "fans.csv", rows))
    assert (error.line, error.problem) == (3, "unknown country 'Narnia' in column country")


def test_error_in_a_later_batch_names_its_line_after_earlier_batches(tmp_path: Path) -> None:
    rows = [f"2026-01-{day:02d},{day}" for day in range(1, 11)]
    rows[7] = "2026-01-08,lots"
    path = write_text(tmp_path / "Song-timeline.csv", "date,streams\n" + "\n".join(rows) + "\n")
    batches = iter_export(path, batch_rows=3)
    assert len(next(batches).frame) == 3
    assert len(next(batches).frame) == 3
    with pytest.raises(ExportError) as caught:
        next(batches)
    assert (caught.value.line, caught.value.problem) == (9, "non-numeric value 'lots' in column streams")


def test_export_error_survives_pickling(tmp_path: Path) -> None:
    error = ExportError(tmp_path / "x.csv", 7, "bad date '2025-02-30' in column date")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, as Dagster ships errors between processes
    assert (copy.path, copy.line, copy.problem, str(copy)) == (error.path, 7, error.problem, str(error))
    assert isinstance(copy, ValueError)


def test_missing_file(tmp_path: Path) -> None:
    error = read_error(tmp_path / "nope.csv")
    assert error.line is None
    assert error.problem.startswith("cannot open the file")
