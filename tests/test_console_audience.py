"""The console's Audience page in headless Chromium against a station served for real: an
editor sees the week's figures, the four charts drawn from the API's SVG and a CSV of the
rows; a presenter is not offered the page."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest

from audience.ledger import Arrival, Ledger, Surface
from audience.rollups import Rollups
from tests.console_support import ConsoleStation, open_page, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.runs(seconds=40)]
BAKU = "85.132.1.1"
BERLIN = "80.130.1.1"


def a_morning(cs: ConsoleStation) -> None:
    """Two listeners of Diaspor.FM a few hours ago: 20 and 50 minutes."""
    st = cs.station
    ledger = Ledger(st.db)
    now = st.clock.now().replace(minute=0, second=0, microsecond=0)
    for key, address, minutes in (("a", BAKU, 20), ("b", BERLIN, 50)):
        start = now - timedelta(hours=3)
        a = Arrival(f"console:{key}", Surface.RELAY, start, address, "VLC/3.0.18 LibVLC/3.0.18",
                    "diaspor-fm", "/diaspor-fm.mp3")  # fmt: skip
        ledger.record(a, start + timedelta(minutes=minutes), minutes * 60)
    Rollups(st.db).roll_up()


def test_an_editor_sees_the_weeks_audience_its_charts_and_a_csv(
    console_station: ConsoleStation, browser_page: Any
) -> None:
    a_morning(console_station)
    page = browser_page
    sign_in(page, console_station.base, "editor")
    assert "Auditoriya" in page.inner_text("nav")
    open_page(page, "audience")
    page.wait_for_selector("#audience-charts figure[data-chart=programmes] svg")
    figures = page.inner_text("#audience-figures")
    assert "Seanslar" in figures and "Dinləmə saatları" in figures
    assert "1,2" in figures or "1.2" in figures  # 70 minutes: 1.2 listening hours
    charts = page.eval_on_selector_all(
        "#audience-charts figure", "els => els.map(e => e.dataset.chart)"
    )
    assert charts == ["day", "week", "countries", "programmes"]
    assert page.locator("#audience-charts svg circle.country").count() == 2  # AZ and DE
    href = page.get_attribute("a[download='audience.csv']", "href") or ""
    text = page.evaluate("url => fetch(url).then(r => r.text())", href)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[-1]["key"] == "total" and rows[-1]["seconds"] == str(70 * 60)
    # Grouped by country instead: a row for each.
    page.select_option("#audience-group", "country")
    page.click("#audience-form button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#audience-rows tbody tr').length === 2")


def test_a_presenter_is_not_offered_the_audience(
    console_station: ConsoleStation, browser_page: Any
) -> None:
    sign_in(browser_page, console_station.base, "presenter")
    open_page(browser_page, "audience")  # by its address, since the menu has no link
    offered = "Auditoriya" in browser_page.inner_text("nav")
    said = browser_page.text_content(".not-allowed")
    assert (offered, said) == (False, "Bu səhifəyə icazəniz yoxdur.")
