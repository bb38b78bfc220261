"""How long the timeline resolver takes for a month of a busy radio schedule and of a TV one.

Run: .venv/bin/python bench/timeline.py [--days 30] [--repeat 5]

Radio: a music clock every hour (station ID at :00, news at :30, music in between from a
shuffled 400-track library with artist separation), plus a weekly programme and a monthly one.
TV: 30-minute programme slots from 06:00 to 24:00, filler and slate in between.
The design's target: a month in < 0.5 s on a 2-core machine. Pure Python, no I/O: this
measures the resolver alone, as the EPG, now-playing and playout all call it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from schedules.plan import (
    Catalogue,
    ChannelSpec,
    ClockSlot,
    ClockSpec,
    EntrySpec,
    EpisodeSpec,
    MediaRef,
    PlaylistSpec,
    ProgrammeSpec,
)
from schedules.timeline import resolve

TARGET_S = 0.5
BAKU = ZoneInfo("Asia/Baku")


def radio() -> tuple[ChannelSpec, list[EntrySpec], Catalogue]:
    media = {
        i: MediaRef(
            i,
            "music",
            f"Mahnı {i}",
            f"Artist {i % 97}",
            (150 + (i * 37) % 150) * 1000,
            300,
            (150 + (i * 37) % 150) * 1000 - 500,
        )
        for i in range(1, 401)
    }
    media[900] = MediaRef(900, "jingle", "Diaspor.FM", "", 7000)
    media[901] = MediaRef(901, "speech", "Xəbərlər", "", 240_000)
    media[902] = MediaRef(902, "filler", "Fon", "", 30_000)
    media[903] = MediaRef(903, "filler", "Qısa fon", "", 6_000)
    media[904] = MediaRef(904, "programme", "Vətən uzaqda deyil", "", 3_300_000)
    cat = Catalogue(
        media=media,
        playlists={
            1: PlaylistSpec(
                1,
                "Musiqi",
                tuple(range(1, 401)),
                shuffle=True,
                artist_separation_ms=1_800_000,
                track_separation_ms=10_800_000,
            ),
            2: PlaylistSpec(2, "Fon", (902, 903)),
        },
        clocks={
            1: ClockSpec(
                1,
                "Musiqi saatı",
                (
                    ClockSlot(0, "media", 900, hard=True),
                    ClockSlot(0, "playlist", 1, fill=True),
                    ClockSlot(1_800_000, "media", 901, hard=True),
                    ClockSlot(1_800_000, "playlist", 1, fill=True),
                ),
            )
        },
        programmes={
            1: ProgrammeSpec(1, "veten", {"az": "Vətən uzaqda deyil"}, (EpisodeSpec(1, 1, 904),))
        },
    )
    entries = [
        EntrySpec(
            1,
            "clock",
            1,
            datetime(2026, 1, 1),  # noqa: DTZ001 (local wall time)
            duration_ms=86_400_000,
            rrule="FREQ=DAILY",
            hard=False,
        ),
        EntrySpec(2, "programme", 1, datetime(2026, 1, 4, 19, 0), rrule="FREQ=WEEKLY;BYDAY=SU"),  # noqa: DTZ001
        EntrySpec(
            3,
            "programme",
            1,
            datetime(2026, 1, 1, 21, 0),  # noqa: DTZ001
            rrule="FREQ=MONTHLY;BYDAY=-1SA",
        ),
    ]
    channel = ChannelSpec(1, "diaspor-fm", "radio", crossfade_ms=3000, filler_playlist_id=2)
    return channel, entries, cat


def tv() -> tuple[ChannelSpec, list[EntrySpec], Catalogue]:
    media = {
        i: MediaRef(i, "programme", f"Veriliş {i}", "", (22 + i % 7) * 60_000) for i in range(1, 61)
    }
    media[100] = MediaRef(100, "filler", "Anons", "", 45_000)
    progs = {
        p: ProgrammeSpec(
            p,
            f"p{p}",
            {"az": f"Proqram {p}"},
            tuple(
                EpisodeSpec(p * 100 + e, p, p * 6 + e - 5, air_date=date(2026, 11, e + 1))
                for e in range(6)
            ),
        )
        for p in range(1, 11)
    }
    entries = [
        EntrySpec(
            10 + slot,
            "programme",
            1 + slot % 10,
            datetime(2026, 1, 1, 6 + slot // 2, 30 * (slot % 2)),  # noqa: DTZ001
            rrule="FREQ=DAILY",
        )
        for slot in range(36)
    ]
    cat = Catalogue(media=media, playlists={1: PlaylistSpec(1, "Anons", (100,))}, programmes=progs)
    return ChannelSpec(2, "diaspor-tv", "tv", filler_playlist_id=1), entries, cat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    start = datetime(2026, 12, 1, tzinfo=BAKU)
    end = start + timedelta(days=args.days)
    print(f"{'schedule':<44} {'items':>7} {'median':>9} {'best':>9} {'target':>8} {'ratio':>6}")
    for name, (channel, entries, cat) in (
        ("radio: hourly clock + programmes", radio()),
        ("tv: 36 programme slots a day", tv()),
    ):
        times = []
        items = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            items = resolve(channel, entries, cat, start, end)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        label = f"{name}, {args.days} days"
        print(
            f"{label:<44} {len(items):>7} {med:>8.3f}s {min(times):>8.3f}s "
            f"{TARGET_S:>7.1f}s {med / TARGET_S:>6.2f}"
        )
    print("ratio = median / target (below 1 meets the target)")


if __name__ == "__main__":
    main()
