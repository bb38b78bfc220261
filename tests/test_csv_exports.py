"""The API's CSV exports open safely in a spreadsheet: a title an editor typed, or a player's
name from a stranger's User-Agent, that a spreadsheet would run as a formula is shown as text."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from api.csv_cells import cell
from playout.asrun_rows import AsRunRow
from tests.schedule_support import Desk


def test_a_formula_in_a_cell_is_shown_as_the_text_it_is_and_numbers_stay_numbers() -> None:
    assert [cell(v) for v in ("=1+1", "+7", "-x", "@SUM(A1)", "\tx", "Ayrılıq")] == [
        "'=1+1",
        "'+7",
        "'-x",
        "'@SUM(A1)",
        "'\tx",
        "Ayrılıq",
    ]
    assert [cell(v) for v in (-5, 0.5, None)] == [-5, 0.5, ""]


def test_the_as_run_export_shows_a_formula_title_as_text(desk: Desk) -> None:
    title = '=HYPERLINK("http://example.invalid","Ayrılıq")'
    now = desk.clock.now()
    with desk.station.db.session() as s:
        s.add(
            AsRunRow(
                channel="diaspor-fm",
                planned_start=now - timedelta(hours=1),
                actual_start=now - timedelta(hours=1),
                planned_ms=40_000,
                kind="music",
                media_id=None,
                entry_id=None,
                title=title,
                artist="@Xan",
                outcome="played",
            )
        )
    r = desk.client.get("/api/v1/manage/asrun", params={"format": "csv"})
    assert r.status_code == 200, r.text
    [row] = list(csv.DictReader(io.StringIO(r.content.decode("utf-8"))))
    assert (row["title"], row["artist"]) == ("'" + title, "'@Xan")
