"""The pitch pack a manager attaches to an email: one page, PDF or PNG, made without a network, fonts
embedded; the PDF rendered back to an image by poppler's pdftoppm as a reader's viewer would."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from campaigns.settings import Settings
from dashboards import pitch
from dashboards.queries import WarehouseReader
from presave.cli import app
from tests.dashboards.warehouse import REMINDER_CLICKS, REMINDERS, TROUBLED

A4_LANDSCAPE_POINTS = (842, 595)

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="poppler-utils missing: run scripts/test-services"
)


@pytest.fixture
def runner(dashboard_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # no stray .env
    return CliRunner(env={"PRESAVE_DATA_DIR": str(dashboard_settings.data_dir)})


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the pitch pack tried to reach the network: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@needs_poppler
def test_the_pitch_command_writes_a_one_page_pdf_with_embedded_fonts_that_renders_as_a_page(
    runner: CliRunner, tmp_path: Path, offline: None
) -> None:
    out = tmp_path / "night-swim.pdf"
    result = runner.invoke(app, ["pitch", "night-swim", "--out", str(out)])
    assert result.exit_code == 0, result.output
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.MULTILINE), info
    width, height = (round(float(v)) for v in info.split("Page size:")[1].split("pts")[0].split(" x "))
    assert (width, height) == A4_LANDSCAPE_POINTS
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    listed = fonts.splitlines()[2:]
    assert listed, fonts
    assert all(" yes " in line for line in listed), fonts  # every font embedded
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(out), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) == 1
    with Image.open(pages[0]) as image:
        assert all(
            abs(got - points * 50 / 72) <= 1 for got, points in zip(image.size, (width, height), strict=True)
        )
        assert len(image.convert("L").getcolors(maxcolors=1 << 16) or []) > 20  # drawn, not a blank page
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "Night Swim" in text
    assert "Top countries" in text
    assert "Comparable campaigns" in text


def test_the_pitch_command_writes_a_png_page(runner: CliRunner, tmp_path: Path, offline: None) -> None:
    out = tmp_path / "pack.png"
    result = runner.invoke(app, ["pitch", "night-swim", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.format == "PNG"
        expected = (pitch.PAGE_INCHES[0] * pitch.PNG_DPI, pitch.PAGE_INCHES[1] * pitch.PNG_DPI)
        assert all(abs(got - want) <= 1 for got, want in zip(image.size, expected, strict=True))


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["pitch", "no-such-campaign", "--out", "x.pdf"], "no campaign 'no-such-campaign'"),
        (["pitch", "night-swim", "--out", "x.docx"], "must end in .pdf or .png"),
    ],
)
def test_the_pitch_command_refuses_with_a_reason(runner: CliRunner, arguments: list[str], says: str) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code != 0
    assert says in result.output


def test_the_pack_holds_the_forecast_and_the_closest_campaigns_of_the_roster(snapshot: Path) -> None:
    reader = WarehouseReader(snapshot)
    pack = pitch.gather(reader, "night-swim")
    overview = reader.query("SELECT * FROM campaign_overview WHERE campaign_slug = 'night-swim'").iloc[0]
    labels = [label for label, _, _ in pack.figures]
    glossary = reader.query("SELECT figure, label FROM figure_glossary").set_index("figure")["label"]
    assert glossary["presaves"] in labels
    assert glossary["forecast"] in labels
    if overview["forecast_point"] == overview["forecast_point"]:  # not NaN: a forecast was made
        assert pack.forecast == pytest.approx(
            {
                "point": overview["forecast_point"],
                "low": overview["forecast_low"],
                "high": overview["forecast_high"],
            }
        )
    assert int(pack.daily["cumulative"].iloc[-1]) == overview["presaves"]
    released = reader.query(
        "SELECT count(*) AS n FROM campaign_overview WHERE first_week_streams IS NOT NULL"
    )
    assert len(pack.comparables) == min(pitch.COMPARABLES, int(released.iloc[0]["n"]))


def test_the_pack_counts_direct_pre_saves_and_reminder_sign_ups_apart_and_in_all(snapshot: Path) -> None:
    reader = WarehouseReader(snapshot)
    kinds = reader.query(
        "SELECT * FROM presave_kinds WHERE campaign_slug = ? AND service = 'all'", [TROUBLED]
    )
    direct = int(kinds.iloc[0]["direct"])
    figures = {label: (value, detail) for label, value, detail in pitch.gather(reader, TROUBLED).figures}
    assert figures["Reminder sign-ups"] == (
        f"{REMINDERS}",
        f"{direct:,} direct pre-saves, {REMINDERS} reminder sign-ups, {direct + REMINDERS:,} in all; "
        f"{REMINDER_CLICKS} followed their release-day link",
    )
    quiet = {label for label, _, _ in pitch.gather(reader, "night-swim").figures}
    assert "Reminder sign-ups" not in quiet  # a campaign without reminders says nothing of them
