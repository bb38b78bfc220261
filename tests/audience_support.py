"""A morning of Diaspor.FM whose true audience is known: real as-run rows across a programme
boundary, and listeners with scripted durations from known (public, test-only) addresses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from audience.ledger import Arrival, Ledger, Surface
from media.models import MediaRow
from playout.asrun import Outcome
from playout.asrun_rows import AsRunRow
from schedules.models import ChannelRow, EntryRow, EpisodeRow, ProgrammeRow
from station.db import Database

DAY0 = datetime(2026, 11, 2, tzinfo=UTC)
ELEVEN = DAY0 + timedelta(hours=11)
BAKU = "85.132.1.1"  # AZ
BERLIN = "80.130.1.1"  # DE
GOOGLE = "8.8.8.8"  # US
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
VLC = "VLC/3.0.18 LibVLC/3.0.18"
PROGRAMME_TITLE = "Vətən uzaqda deyil"


@dataclass(frozen=True)
class Morning:
    programme_id: int
    episode_id: int


def at(minutes: int) -> datetime:
    """Minutes after 11:00 UTC on 2 November 2026."""
    return ELEVEN + timedelta(minutes=minutes)


def catalogue(db: Database) -> Morning:
    """The channel, the monthly programme, its seventh episode, and its schedule entry."""
    with db.session() as s:
        now = DAY0
        ch = ChannelRow(
            slug="diaspor-fm",
            kind="radio",
            names={"az": "Diaspor.FM"},
            created_at=now,
            updated_at=now,
        )
        p = ProgrammeRow(
            slug="veten", titles={"az": PROGRAMME_TITLE}, created_at=now, updated_at=now
        )
        s.add_all([ch, p])
        s.flush()
        e = EpisodeRow(
            programme_id=p.id,
            number=7,
            titles={"az": "Toronto azərbaycanlıları"},
            available_from=at(100),
            created_at=now,
            updated_at=now,
        )
        s.add(e)
        s.flush()
        entry = EntryRow(
            channel_id=ch.id,
            target_type="programme",
            target_id=p.id,
            episode_id=e.id,
            start_local=datetime(2026, 11, 2, 15, 30),
            created_at=now,
            updated_at=now,
        )
        music = EntryRow(
            channel_id=ch.id,
            target_type="playlist",
            target_id=1,
            start_local=datetime(2026, 11, 2, 15, 0),
            created_at=now,
            updated_at=now,
        )
        s.add_all([entry, music])
        s.flush()
        # What aired: music from 11:00, the programme 11:30–12:30, music 12:30–12:40.
        aired = [
            (0, 30, music.id, "Qarabağ şikəstəsi", "music"),
            (30, 60, entry.id, PROGRAMME_TITLE, "programme"),
            (90, 10, music.id, "Sarı gəlin", "music"),
        ]
        for start, length, entry_id, title, kind in aired:
            s.add(
                AsRunRow(
                    channel="diaspor-fm",
                    planned_start=at(start),
                    actual_start=at(start),
                    planned_ms=length * 60_000,
                    kind=kind,
                    media_id=None,
                    entry_id=entry_id,
                    title=title,
                    artist="",
                    outcome=Outcome.PLAYED,
                )
            )
        # An item that did not air takes no time.
        s.add(
            AsRunRow(
                channel="diaspor-fm",
                planned_start=at(60),
                actual_start=at(60),
                planned_ms=60_000,
                kind="music",
                media_id=None,
                entry_id=music.id,
                title="itmiş fayl",
                artist="",
                outcome=Outcome.MISSING,
            )
        )
        return Morning(p.id, e.id)


def listen(
    ledger: Ledger,
    key: str,
    surface: Surface,
    address: str,
    agent: str,
    start: int,
    seconds: int,
    episode: int | None = None,
) -> None:
    channel = None if surface == Surface.PODCAST else "diaspor-fm"
    a = Arrival(key, surface, at(start), address, agent, channel, "/fm.mp3", episode)
    assert ledger.record(a, at(start) + timedelta(seconds=seconds), seconds)


def audience(db: Database, morning: Morning) -> Ledger:
    """Five sessions: 7200 seconds in all, four visitors, three countries, two at once."""
    ledger = Ledger(db)
    listen(ledger, "relay:a", Surface.RELAY, BAKU, IPHONE, 20, 1200)  # 11:20–11:40
    listen(ledger, "icecast:b", Surface.ICECAST, BERLIN, VLC, 50, 3000)  # 11:50–12:40
    listen(ledger, "relay:c", Surface.RELAY, BAKU, IPHONE, 95, 600)  # 12:35–12:45
    listen(ledger, "podcast:d", Surface.PODCAST, BERLIN, IPHONE, 130, 1800, morning.episode_id)
    # Eight days on: within the episode's first 30 days, not its first 7.
    listen(
        ledger,
        "podcast:late",
        Surface.PODCAST,
        GOOGLE,
        IPHONE,
        8 * 24 * 60,
        900,
        morning.episode_id,
    )
    # Still listening: opened at 13:00, ten minutes heard so far.
    f = Arrival("relay:f", Surface.RELAY, at(120), GOOGLE, VLC, "diaspor-fm", "/fm.mp3")
    assert ledger.open(f)
    assert ledger.progress("relay:f", at(130), 600)
    return ledger


def episode_of_media(
    db: Database,
    media_id: int,
    storage_key: str,
    size_bytes: int,
    at: datetime,
    *,
    duration_ms: int | None = None,
    number: int = 1,
    title: str = "Bakı",
) -> int:
    """Media item `media_id` stored at `storage_key`, the media of episode `number` of the
    monthly programme; the episode's id."""
    with db.session() as s:
        s.add(
            MediaRow(
                id=media_id,
                sha256=str(media_id) * 64,
                kind="programme",
                original_name=storage_key.rsplit("/", 1)[-1],
                storage_key=storage_key,
                size_bytes=size_bytes,
                duration_ms=duration_ms,
                created_at=at,
                updated_at=at,
            )
        )
        programme = ProgrammeRow(
            slug="veten", titles={"az": PROGRAMME_TITLE}, created_at=at, updated_at=at
        )
        s.add(programme)
        s.flush()
        episode = EpisodeRow(
            programme_id=programme.id,
            number=number,
            titles={"az": title},
            media_id=media_id,
            created_at=at,
            updated_at=at,
        )
        s.add(episode)
        s.flush()
        return episode.id
