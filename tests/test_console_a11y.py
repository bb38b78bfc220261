"""Every page of the console, signed in as an admin (who sees them all), checked by axe-core
in Chromium: no serious or critical accessibility violation. And a screenshot of each page
on a phone (390x844) and a desktop (1280x800) in Azerbaijani, written to
$DIASPOR_SCREENSHOTS_DIR (or a temporary folder, printed) for a person to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.console_support import (
    DESKTOP,
    PAGES,
    PHONE,
    ConsoleStation,
    open_page,
    screenshots_dir,
    sign_in,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.runs(seconds=60)]
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
ONE_LEG = pytest.mark.parametrize("console_station", ["sqlite"], indirect=True)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page as it is now (WCAG 2.x A, AA)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


@ONE_LEG
def test_every_console_page_passes_axe_for_an_admin(
    console_station: ConsoleStation, browser_page: Any
) -> None:
    page = browser_page
    page.goto(f"{console_station.base}/console")
    page.wait_for_selector("#username")
    problems = {"sign-in": axe_violations(page)}
    sign_in(page, console_station.base, "admin")
    for page_id in PAGES:
        open_page(page, page_id)
        page.wait_for_timeout(300)  # what a page fetches after drawing (health, lists)
        problems[page_id] = axe_violations(page)
    assert {k: v for k, v in problems.items() if v} == {}


def test_axe_finds_a_serious_violation_where_there_is_one(browser_page: Any) -> None:
    """The check above can fail: an image without a text alternative and a nameless button."""
    browser_page.set_content("<main><img src='x.png'><button></button></main>")
    ids = {v["id"] for v in axe_violations(browser_page)}
    assert {"image-alt", "button-name"} <= ids


@ONE_LEG
def test_screenshots_of_every_page_on_a_phone_and_a_desktop(
    console_station: ConsoleStation, browser: Any
) -> None:
    folder = screenshots_dir()
    print(f"\nconsole screenshots: {folder}")
    written = []
    for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        context = browser.new_context(
            viewport=viewport,
            timezone_id="Asia/Baku",
            is_mobile=label == "phone",
            has_touch=label == "phone",
        )
        try:
            page = context.new_page()
            sign_in(page, console_station.base, "admin")
            assert page.evaluate("document.documentElement.lang") == "az"
            for page_id in PAGES:
                open_page(page, page_id)
                page.wait_for_timeout(300)
                path = folder / f"{page_id.replace('/', '-')}-{label}-az.png"
                page.screenshot(path=str(path), full_page=True)
                written.append(path)
                # Nothing is wider than the screen.
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= viewport["width"], (page_id, label, width)
        finally:
            context.close()
    assert all(p.stat().st_size > 5000 for p in written)
