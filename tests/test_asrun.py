"""The as-run log records every item the engine put on the line, with how it went."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from api.routes.asrun import COLUMNS
from media.binaries import Tools
from playout.asrun import AsRunLog
from playout.radio import Playable, RadioEngine
from schedules.plan import Catalogue, ChannelSpec, EntrySpec, MediaRef, PlaylistSpec, to_ms
from schedules.timeline import resolve
from station.db import Database
from tests.schedule_support import Desk
from tests.support import run, tone

BAKU = ZoneInfo("Asia/Baku")


class Null:
    async def write(self, data: bytes) -> None:
        pass

    async def close(self) -> None:
        pass


def radio_engine(
    tools: Tools, tmp_path: Path, log: AsRunLog, origin: datetime, *, missing: bool = True
) -> RadioEngine:
    """Diaspor.FM from `origin`: a 20 s song, then (with `missing`) one whose file is gone,
    in turn for an hour from 10:00."""
    f = tmp_path / "a.mp3"
    if not f.exists():
        tone(tools.ffmpeg, f, seconds=20, volume=0.3, tags={"title": "Qarabağ şikəstəsi"})
    media = {
        1: MediaRef(1, "music", "Qarabağ şikəstəsi", "Xan Şuşinski", 20_000),
        2: MediaRef(2, "music", "Yoxdur", "Heç kim", 20_000),
    }
    playable = {1: Playable(str(f), -20.0, -6.0), 2: Playable(str(tmp_path / "no.mp3"), None, None)}
    songs = (1, 2) if missing else (1,)
    cat = Catalogue(media=media, playlists={1: PlaylistSpec(1, "M", songs)})
    channel = ChannelSpec(1, "diaspor-fm", "radio")
    entries = [EntrySpec(1, "playlist", 1, datetime(2026, 11, 29, 10), duration_ms=3_600_000)]
    return RadioEngine(
        ffmpeg=tools.ffmpeg,
        timeline=lambda a, b: resolve(
            channel,
            entries,
            cat,
            datetime.fromtimestamp(a / 1000, BAKU),
            datetime.fromtimestamp(b / 1000, BAKU),
        ),
        playable=playable.get,
        origin_ms=to_ms(origin),
        hooks=[log.hook],
    )


START = datetime(2026, 11, 29, 10, tzinfo=BAKU)


def test_every_item_is_logged_with_its_planned_and_actual_start_and_outcome(
    tmp_path: Path, tools: Tools, db_url: str
) -> None:
    db = Database(db_url)
    log = AsRunLog(db, "diaspor-fm")
    engine = radio_engine(tools, tmp_path, log, START)
    try:
        run(engine.render(to_ms(START + timedelta(seconds=75)), Null()))
        rows = list(reversed(log.recent(10)))
    finally:
        db.dispose()
    assert [(r.title, r.outcome) for r in rows] == [
        ("Qarabağ şikəstəsi", "played"),
        ("Yoxdur", "skipped-missing"),
        ("Qarabağ şikəstəsi", "played"),
        ("Yoxdur", "skipped-missing"),
    ]
    assert all(r.actual_start == r.planned_start for r in rows)
    assert rows[1].planned_start - rows[0].planned_start == timedelta(seconds=20)


def test_a_line_that_joins_a_song_under_way_logs_it_then_and_cuts_the_earlier_row_short(
    tmp_path: Path, tools: Tools, db_url: str
) -> None:
    """A playout stopped 8 s into a song (killed, or it lost the lead) and another line began
    12 s in (a standby taking over): the first row no longer says the song played, the
    second says when the song was on air again, and the gap between them is plain."""
    db = Database(db_url)
    log = AsRunLog(db, "diaspor-fm")
    first = radio_engine(tools, tmp_path, log, START, missing=False)
    second = radio_engine(tools, tmp_path, log, START + timedelta(seconds=12), missing=False)
    try:
        run(first.render(to_ms(START + timedelta(seconds=8)), Null()))
        assert [r.outcome for r in log.recent(10)] == ["played"]  # as written at its start
        run(second.render(to_ms(START + timedelta(seconds=30)), Null()))
        rows = list(reversed(log.recent(10)))
    finally:
        db.dispose()
    at = [(r.planned_start - START, r.actual_start - START, r.outcome) for r in rows]
    assert at == [
        (timedelta(0), timedelta(0), "cut-short"),
        (timedelta(0), timedelta(seconds=12), "played"),
        (timedelta(seconds=20), timedelta(seconds=20), "played"),
    ]
    assert [b.joined for b in second.boundaries] == [True, False]


def as_run_pages(desk: Desk, **params: Any) -> list[dict[str, Any]]:
    """Every row of the report, following `next` one small page at a time."""
    rows: list[dict[str, Any]] = []
    r = desk.client.get("/api/v1/manage/asrun", params={**params, "limit": 3})
    while True:
        assert r.status_code == 200, r.text
        rows += r.json()["items"]
        if r.json()["next"] is None:
            return rows
        r = desk.client.get(r.json()["next"].removeprefix(desk.station.settings.base_url))


def test_editors_read_what_aired_by_channel_time_and_outcome_and_take_it_as_csv(
    tmp_path: Path, tools: Tools, desk: Desk
) -> None:
    """Playout logs Diaspor.FM's morning and a second channel's; the as-run report gives
    each channel's rows in the order they aired, a window of them, the skipped ones alone,
    and the same rows as CSV a spreadsheet opens with the Azerbaijani titles whole."""
    db = desk.station.db
    fm, other = AsRunLog(db, "diaspor-fm"), AsRunLog(db, "diaspor-avropa")
    run(
        radio_engine(tools, tmp_path, fm, START).render(
            to_ms(START + timedelta(seconds=75)), Null()
        )
    )
    later = START + timedelta(minutes=5)
    run(
        radio_engine(tools, tmp_path, other, later, missing=False).render(
            to_ms(later + timedelta(seconds=30)), Null()
        )
    )

    rows = as_run_pages(desk, channel="diaspor-fm")
    assert [(r["title"], r["outcome"]) for r in rows] == [
        ("Qarabağ şikəstəsi", "played"),
        ("Yoxdur", "skipped-missing"),
        ("Qarabağ şikəstəsi", "played"),
        ("Yoxdur", "skipped-missing"),
    ]
    assert rows[0]["artist"] == "Xan Şuşinski" and rows[0]["planned_ms"] == 20_000
    starts = [datetime.fromisoformat(r["actual_start"]) for r in rows]
    assert starts == sorted(starts) and starts[0] == START
    everything = as_run_pages(desk)
    assert {r["channel"] for r in everything} == {"diaspor-fm", "diaspor-avropa"}
    assert len(everything) == len(rows) + 2

    window = as_run_pages(
        desk,
        channel="diaspor-fm",
        **{"from": (START + timedelta(seconds=20)).isoformat(), "to": "2026-11-29T06:00:40Z"},
    )
    assert [r["id"] for r in window] == [rows[1]["id"]]  # from included, to (10:00:40 Baku) not
    skipped = as_run_pages(desk, outcome="skipped-missing")
    assert [r["id"] for r in skipped] == [rows[1]["id"], rows[3]["id"]]

    for how in ({"params": {"format": "csv"}}, {"headers": {"Accept": "text/csv"}}):
        r = desk.client.get(
            "/api/v1/manage/asrun",
            **{**how, "params": {**how.get("params", {}), "channel": "diaspor-fm"}},
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv; charset=utf-8")
        table = list(csv.DictReader(io.StringIO(r.content.decode("utf-8"))))
        assert [int(t["id"]) for t in table] == [row["id"] for row in rows]
        assert table[0]["title"] == "Qarabağ şikəstəsi" and table[0]["artist"] == "Xan Şuşinski"
        assert table[1]["outcome"] == "skipped-missing" and table[1]["first_seq"] == ""
    header = desk.client.get("/api/v1/manage/asrun", params={"format": "csv", "channel": "none"})
    assert header.text.splitlines() == [",".join(COLUMNS)]  # no rows: still the header

    backwards = desk.client.get(
        "/api/v1/manage/asrun",
        params={"from": "2026-11-29T07:00:00Z", "to": "2026-11-29T06:00:00Z"},
    )
    assert backwards.status_code == 422 and backwards.json()["reason"] == "invalid-request"
    unknown = desk.client.get("/api/v1/manage/asrun", params={"outcome": "aired-twice"})
    assert unknown.status_code == 422


def test_a_song_an_operator_skips_is_logged_as_skipped_and_one_interrupted_as_cut_short(
    db_url: str,
) -> None:
    """Each row is written as its item begins, saying `played`; when playout hears that an
    operator's action cut the item, the same row says how it ended."""
    from dataclasses import replace

    from playout.asrun import Boundary, Outcome
    from schedules.plan import TimelineItem

    db = Database(db_url)
    log = AsRunLog(db, "diaspor-fm")
    t0 = to_ms(START)
    song = TimelineItem(t0, t0 + 200_000, "music", None, 0, 200_000, title="Sarı gəlin")
    other = TimelineItem(t0 + 30_000, t0 + 230_000, "music", None, 0, 200_000, title="Ayrılıq")
    try:
        log.write(Boundary(song, 0, t0, Outcome.PLAYED))
        skipped = replace(song, end_ms=t0 + 30_000, cut=True, action="skip", action_id=4)
        log.write(Boundary(skipped, 0, t0, Outcome.PLAYED, amended=True))
        log.write(Boundary(other, 0, t0 + 30_000, Outcome.PLAYED))
        cut = replace(other, end_ms=t0 + 40_000, cut=True)  # a play-now came in
        log.write(Boundary(cut, 0, t0 + 30_000, Outcome.PLAYED, amended=True))
        rows = list(reversed(log.recent(10)))
    finally:
        db.dispose()
    assert [(r.title, r.outcome, r.planned_ms) for r in rows] == [
        ("Sarı gəlin", "skipped-by-operator", 30_000),
        ("Ayrılıq", "cut-short", 10_000),
    ]
