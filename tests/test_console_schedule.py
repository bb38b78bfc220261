"""The console's schedule, playlists and programmes pages, in Chromium, as an editor uses
them: a programme with an episode, a playlist of two ready media, the programme put in the
calendar every Monday with one Monday taken out, a hard start that would overlap it warned
about and not saved, a good one saved and seen in the public guide, an entry dragged to a
new time, and the weekly series dragged as a whole, each checked through the API."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.console_support import ConsoleStation, open_page, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.runs(seconds=60)]
BAKU = ZoneInfo("Asia/Baku")
PROGRAMME = {"az": "Axşam söhbəti", "en": "Evening Talk", "ru": "Вечерняя беседа"}
PLAYLIST = "Axşam musiqisi"
# A channel of its own: the demo's Diaspor.FM plays seconds-long test tunes around the
# clock, and working out a week of them keeps the server busy for seconds.
CHANNEL = {
    "slug": "axsam-radiosu",
    "kind": "radio",
    "names": {"az": "Axşam radiosu", "en": "Evening Radio", "ru": "Вечернее радио"},
    "timezone": "Asia/Baku",
}


def mondays() -> tuple[date, date]:
    """Next week's Monday and the one after (in Baku): far enough not to be frozen."""
    today = datetime.now(BAKU).date()
    first = today + timedelta(days=7 - today.weekday())
    return first, first + timedelta(days=7)


def ready_media(api: httpx.Client) -> dict[str, int]:
    items = api.get("/api/v1/media", params={"status": "ready"}).json()["items"]
    return {m["kind"]: m["id"] for m in items}


def entries_of(api: httpx.Client, channel_id: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(
        "/api/v1/manage/entries", params={"channel_id": channel_id}
    ).json()["items"]
    return items


def make_programme_with_an_episode(page: Any, song: int) -> None:
    open_page(page, "programmes")
    page.click("#prog-new")
    form = page.locator("#prog-form")
    form.locator("input[name=slug]").fill("axsam-sohbeti")
    for lang, title in PROGRAMME.items():
        form.locator(f"input[name=titles-{lang}]").fill(title)
    form.locator("textarea[name=descriptions-az]").fill("Qonaqlarla axşam söhbəti")
    form.locator("button[type=submit]").click()
    page.click("#ep-new")
    dialog = page.locator("dialog.sched-dialog")
    dialog.locator("input[name=season]").fill("1")
    dialog.locator("input[name=number]").fill("1")
    dialog.locator("input[name=titles-az]").fill("İlk görüş")
    dialog.locator("select[name=media_id]").select_option(str(song))
    dialog.locator("button[type=submit]").click()
    page.locator("table.prog-episodes").get_by_text("İlk görüş").wait_for()


def make_playlist(page: Any, first: int, second: int) -> None:
    open_page(page, "playlists")
    page.click("#pl-new")
    form = page.locator("#pl-form")
    form.locator("input[name=name]").fill(PLAYLIST)
    form.locator(f"button[data-add='{first}']").click()
    form.locator(f"button[data-add='{second}']").click()
    # From the keyboard: the first item goes down one place.
    form.locator(f"li.pl-item[data-media='{first}']").press("Alt+ArrowDown")
    form.locator("button[type=submit]").click()
    page.locator(".pl-list button", has_text=PLAYLIST).wait_for()


def show_week_of(page: Any, day: date) -> None:
    """Step the calendar forward or back until it shows the week holding `day`."""
    for _ in range(4):
        page.wait_for_selector(".cal-col")
        first = date.fromisoformat(page.locator(".cal-col").first.get_attribute("data-day"))
        if first <= day < first + timedelta(days=7):
            return
        page.click("#sched-next" if day > first else "#sched-prev")
        page.wait_for_function(
            "d => document.querySelector('.cal-col').dataset.day !== d", arg=first.isoformat()
        )
    pytest.fail(f"the calendar did not reach the week of {day}")


def drag_down_an_hour(page: Any, entry_id: int, start: str) -> None:
    """Drags an entry of the calendar down by an hour (48 px), a few pixels at a time."""
    button = page.locator(f"button.cal-entry[data-entry='{entry_id}'][data-start='{start}']")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + 4
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 7):
        page.mouse.move(x, y + step * 8)
    page.mouse.up()


def new_entry(page: Any, kind: str, target: str, day: date, at: str, minutes: int) -> Any:
    page.click("#sched-new")
    dialog = page.locator("dialog.sched-dialog")
    dialog.locator("select[name=target_type]").select_option(kind)
    dialog.locator("select[name=target_id]").select_option(label=target)
    dialog.locator("input[name=date]").fill(day.isoformat())
    dialog.locator("input[name=time]").fill(at)
    dialog.locator("input[name=minutes]").fill(str(minutes))
    return dialog


def test_an_editor_schedules_a_weekly_programme_with_an_exception_and_moves_an_entry(
    console_station: ConsoleStation, browser_page: Any
) -> None:
    page = browser_page
    first_monday, second_monday = mondays()
    with console_station.api() as api:
        media = ready_media(api)
        channel = api.post("/api/v1/manage/channels", json=CHANNEL)
        assert channel.status_code == 201, channel.text
        channel_id = channel.json()["id"]
    # A machine busy with other work answers slowly: a save may take a while.
    page.set_default_timeout(60_000)
    sign_in(page, console_station.base, "editor")

    make_programme_with_an_episode(page, media["music"])
    make_playlist(page, media["music"], media["jingle"])
    with console_station.api() as api:
        programme = next(
            p
            for p in api.get("/api/v1/manage/programmes").json()["items"]
            if p["slug"] == "axsam-sohbeti"
        )
        assert programme["titles"] == PROGRAMME
        episodes = api.get(
            "/api/v1/manage/episodes", params={"programme_id": programme["id"]}
        ).json()["items"]
        assert [(e["season"], e["number"], e["media_id"]) for e in episodes] == [
            (1, 1, media["music"])
        ]
        playlist = next(
            p for p in api.get("/api/v1/manage/playlists").json()["items"] if p["name"] == PLAYLIST
        )
        assert playlist["media_ids"] == [media["jingle"], media["music"]]

    # Every Monday at 20:00 for half an hour.
    open_page(page, "schedule")
    page.locator("#sched-channel").select_option(str(channel_id))
    show_week_of(page, first_monday)
    dialog = new_entry(page, "programme", PROGRAMME["az"], first_monday, "20:00", 30)
    dialog.locator("select[name=repeat]").select_option("weekly")
    for day in ("MO", "TU", "WE", "TH", "FR", "SA", "SU"):
        dialog.locator(f"input[name=day-{day}]").set_checked(day == "MO")
    dialog.locator("button[type=submit]").click()
    dialog.wait_for(state="detached")
    with console_station.api() as api:
        (weekly,) = entries_of(api, channel_id)
    assert weekly["rrule"] == "FREQ=WEEKLY;BYDAY=MO"
    assert weekly["start_local"] == f"{first_monday}T20:00:00"
    assert weekly["duration_ms"] == 30 * 60_000 and weekly["hard"]
    # Its button is named by what it shows, then its kind and day for a screen reader.
    name = page.locator(
        f"button.cal-entry[data-entry='{weekly['id']}'][data-start='{first_monday}T20:00:00']"
    ).text_content()
    assert name.startswith(f"20:00–20:30 {PROGRAMME['az']}, Veriliş, Bazar ertəsi"), name

    # The Monday after is taken out: this occurrence only.
    show_week_of(page, second_monday)
    page.click(
        f"button.cal-entry[data-entry='{weekly['id']}'][data-start='{second_monday}T20:00:00']"
    )
    dialog = page.locator("dialog.sched-dialog")
    dialog.locator("input[name=scope][value=one]").check()
    dialog.locator("button.danger").click()
    dialog.wait_for(state="detached")
    page.wait_for_selector(
        f"button.cal-entry[data-entry='{weekly['id']}'][data-start='{second_monday}T20:00:00']",
        state="detached",
    )
    with console_station.api() as api:
        weekly = api.get(f"/api/v1/manage/entries/{weekly['id']}").json()
        assert weekly["exdates"] == [f"{second_monday}T20:00:00"]
        assert weekly["rrule"] == "FREQ=WEEKLY;BYDAY=MO"

    # A hard start inside the programme's half hour is refused before it is written.
    show_week_of(page, first_monday)
    dialog = new_entry(page, "playlist", PLAYLIST, first_monday, "20:10", 20)
    dialog.locator("button[type=submit]").click()
    alert = dialog.locator(".sched-alert")
    alert.wait_for()
    page.wait_for_function(
        "() => document.querySelector('dialog .sched-alert').textContent.includes('Toqquşma')"
    )
    assert PROGRAMME["az"] in alert.text_content()
    with console_station.api() as api:
        assert [e["id"] for e in entries_of(api, channel_id)] == [weekly["id"]]

    # At 21:00 it fits: saved, and the public guide has both.
    dialog.locator("input[name=time]").fill("21:00")
    dialog.locator("button[type=submit]").click()
    dialog.wait_for(state="detached")
    with console_station.api() as api:
        (evening,) = [e for e in entries_of(api, channel_id) if e["id"] != weekly["id"]]
        assert (evening["target_type"], evening["target_id"]) == ("playlist", playlist["id"])
        assert evening["start_local"] == f"{first_monday}T21:00:00" and evening["rrule"] is None
        guide = api.get(
            "/api/v1/channels/axsam-radiosu/schedule",
            params={"date": first_monday.isoformat(), "lang": "en"},
        ).json()
    starts = {datetime.fromisoformat(b["start"]): b for b in guide["blocks"]}
    at_20 = datetime.combine(first_monday, datetime.min.time().replace(hour=20), BAKU)
    assert starts[at_20]["programme"] == "axsam-sohbeti"
    assert starts[at_20]["title"] == PROGRAMME["en"]
    assert at_20 + timedelta(hours=1) in starts

    # Dragged an hour later (48 px an hour), it airs at 22:00.
    drag_down_an_hour(page, evening["id"], f"{first_monday}T21:00:00")
    page.wait_for_selector(
        f"button.cal-entry[data-entry='{evening['id']}'][data-start='{first_monday}T22:00:00']",
        timeout=10_000,
    )
    with console_station.api() as api:
        moved = api.get(f"/api/v1/manage/entries/{evening['id']}").json()
    assert moved["start_local"] == f"{first_monday}T22:00:00"
    assert moved["duration_ms"] == 20 * 60_000

    # The weekly programme dragged an hour later, for the whole series: every Monday at
    # 21:00 from now on, its exception moved with it.
    drag_down_an_hour(page, weekly["id"], f"{first_monday}T20:00:00")
    page.locator("dialog.sched-dialog button", has_text="Bütün seriya").click()
    page.wait_for_selector(
        f"button.cal-entry[data-entry='{weekly['id']}'][data-start='{first_monday}T21:00:00']",
        timeout=30_000,
    )
    with console_station.api() as api:
        series = api.get(f"/api/v1/manage/entries/{weekly['id']}").json()
    assert series["start_local"] == f"{first_monday}T21:00:00"
    assert series["rrule"] == "FREQ=WEEKLY;BYDAY=MO"
    assert series["exdates"] == [f"{second_monday}T21:00:00"]
