from typing import Any
from tests.console_support import ConsoleStation, open_page, sign_in

def test_smoke(console_station: ConsoleStation, browser_page: Any) -> None:
    page = browser_page
    page.on("console", lambda m: print("CONSOLE", m.type, m.text))
    sign_in(page, console_station.base, "editor")
    open_page(page, "schedule")
    page.wait_for_selector(".cal-grid", timeout=15000)
    page.screenshot(path="/tmp/sched/week.png", full_page=True)
    page.click("#sched-new")
    page.wait_for_selector("dialog.sched-dialog")
    page.screenshot(path="/tmp/sched/form.png", full_page=True)
