"""The as-run log records every item the engine put on the line, with how it went."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from media.binaries import Tools
from playout.asrun import AsRunLog
from playout.radio import Playable, RadioEngine
from schedules.plan import Catalogue, ChannelSpec, EntrySpec, MediaRef, PlaylistSpec, to_ms
from schedules.timeline import resolve
from station.db import Database
from tests.support import run, tone

BAKU = ZoneInfo("Asia/Baku")


class Null:
    async def write(self, data: bytes) -> None:
        pass

    async def close(self) -> None:
        pass


def test_every_item_is_logged_with_its_planned_and_actual_start_and_outcome(
    tmp_path: Path, tools: Tools, db_url: str
) -> None:
    f = tone(
        tools.ffmpeg,
        tmp_path / "a.mp3",
        seconds=20,
        volume=0.3,
        tags={"title": "Qarabağ şikəstəsi"},
    )
    media = {
        1: MediaRef(1, "music", "Qarabağ şikəstəsi", "Xan Şuşinski", 20_000),
        2: MediaRef(2, "music", "Yoxdur", "Heç kim", 20_000),
    }
    playable = {1: Playable(str(f), -20.0, -6.0), 2: Playable(str(tmp_path / "no.mp3"), None, None)}
    cat = Catalogue(media=media, playlists={1: PlaylistSpec(1, "M", (1, 2))})
    channel = ChannelSpec(1, "diaspor-fm", "radio")
    start = datetime(2026, 11, 29, 10, tzinfo=BAKU)
    entries = [EntrySpec(1, "playlist", 1, datetime(2026, 11, 29, 10), duration_ms=3_600_000)]
    db = Database(db_url)
    log = AsRunLog(db, "diaspor-fm")
    engine = RadioEngine(
        ffmpeg=tools.ffmpeg,
        timeline=lambda a, b: resolve(
            channel,
            entries,
            cat,
            datetime.fromtimestamp(a / 1000, BAKU),
            datetime.fromtimestamp(b / 1000, BAKU),
        ),
        playable=playable.get,
        origin_ms=to_ms(start),
        hooks=[log.hook],
    )
    try:
        run(engine.render(to_ms(start + timedelta(seconds=75)), Null()))
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
