"""Audience reports for a month of a busy station: 1,000,000 sessions, on SQLite and on
PostgreSQL.

Run: .venv/bin/python bench/audience.py [--sessions 1000000] [--database-url URL|none]

A month of as-run on a radio and a TV channel (songs of 3–5 minutes, an hour's programme
every three hours; TV in half hours), then sessions over the month with a day's rhythm, from
a pool of public addresses (countries from the offline database) and a dozen players, on
every surface. Measured:
- ingest: sessions/s through `Ledger.record` (one transaction each, as a surface reports a
  download) on a sample, and through `Ledger.record_many` (a log read afterwards) for all;
- rollup: `Rollups.roll_up` over every session;
- reports: the month grouped by day (in Asia/Baku), channel, country, programme and hour,
  from the rollups (plus the raw rows not yet rolled up, here a few hundred) and, for
  reference, from raw sessions alone.
The design's target (DESIGN.md): a month of 1 million sessions reports in < 1 s.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# This script's folder comes first on sys.path, and its name is the package's: step aside.
if Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

from audience.ledger import Arrival, Ledger, Surface
from audience.reports import Grouping, Query, Reports
from audience.rollups import Rollups
from diaspor import migrate
from playout.asrun import Outcome
from playout.asrun_rows import AsRunRow
from schedules.models import ChannelRow, EntryRow, EpisodeRow, ProgrammeRow
from station.db import Database, scratch_database

TARGET_S = 1.0
MONTH = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 30
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
AGENTS = [
    "VLC/3.0.18 LibVLC/3.0.18",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "AppleCoreMedia/1.0.0.21A329 (iPhone; U; CPU OS 17_0 like Mac OS X; en_us)",
    "ExoPlayerLib/2.19.1",
    "Lavf/60.3.100",
    "Winamp/5.9",
    "iTunes/12.12 (Windows; Microsoft Windows 10 x64)",
    "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)",
]
SURFACES = [
    (Surface.RELAY, 0.35),
    (Surface.ICECAST, 0.20),
    (Surface.RADIO_HLS, 0.15),
    (Surface.TV_HLS, 0.18),
    (Surface.PODCAST, 0.08),
    (Surface.VOD, 0.04),
]


def catalogue(db: Database) -> list[int]:
    """Channels, programmes with episodes, and a month of as-run; the episodes' ids."""
    rnd = random.Random(7)
    now = MONTH
    with db.session() as s:
        fm = ChannelRow(
            slug="fm", kind="radio", names={"az": "Diaspor.FM"}, created_at=now, updated_at=now
        )
        tv = ChannelRow(
            slug="tv", kind="tv", names={"az": "Diaspor TV"}, created_at=now, updated_at=now
        )
        s.add_all([fm, tv])
        s.flush()
        programmes = []
        for i in range(6):
            p = ProgrammeRow(
                slug=f"p{i}", titles={"az": f"Verilİş {i}"}, created_at=now, updated_at=now
            )
            s.add(p)
            programmes.append(p)
        s.flush()
        episodes = []
        for p in programmes:
            for n in range(8):
                e = EpisodeRow(
                    programme_id=p.id,
                    number=n,
                    titles={"az": f"Buraxılış {n}"},
                    available_from=MONTH + timedelta(days=3 * n),
                    created_at=now,
                    updated_at=now,
                )
                s.add(e)
                episodes.append(e)
        s.flush()
        entries = {}
        for ch in (fm, tv):
            for p in programmes:
                e = EntryRow(
                    channel_id=ch.id,
                    target_type="programme",
                    target_id=p.id,
                    start_local=MONTH.replace(tzinfo=None),
                    created_at=now,
                    updated_at=now,
                )
                s.add(e)
                entries[(ch.slug, p.id)] = e
            music = EntryRow(
                channel_id=ch.id,
                target_type="playlist",
                target_id=1,
                start_local=MONTH.replace(tzinfo=None),
                created_at=now,
                updated_at=now,
            )
            s.add(music)
            entries[(ch.slug, 0)] = music
        s.flush()
        rows = []
        for slug in ("fm", "tv"):
            at = MONTH - timedelta(hours=1)
            while at < MONTH + timedelta(days=DAYS + 1):
                if at.hour % 3 == 0 and at.minute == 0:
                    p = programmes[(at.hour // 3) % len(programmes)]
                    length, entry, title = 3600, entries[(slug, p.id)], p.titles["az"]
                elif slug == "tv":
                    length, entry, title = 1800, entries[(slug, 0)], "Sənədli film"
                else:
                    length, entry, title = rnd.randint(180, 300), entries[(slug, 0)], "Mahnı"
                nxt = at + timedelta(seconds=length)
                if nxt.hour % 3 == 0 and nxt.hour != at.hour:
                    nxt = nxt.replace(minute=0, second=0)
                rows.append(
                    {
                        "channel": slug,
                        "planned_start": at,
                        "actual_start": at,
                        "planned_ms": int((nxt - at).total_seconds() * 1000),
                        "kind": "music",
                        "media_id": None,
                        "entry_id": entry.id,
                        "title": title,
                        "artist": "",
                        "outcome": Outcome.PLAYED,
                    }
                )
                at = nxt
        s.execute(AsRunRow.__table__.insert(), rows)
        return [e.id for e in episodes]


def sessions(n: int, episodes: list[int]) -> list[tuple[Arrival, datetime, int, int]]:
    rnd = random.Random(18)
    first = [
        5,
        31,
        37,
        46,
        62,
        77,
        78,
        80,
        81,
        82,
        85,
        88,
        91,
        93,
        94,
        95,
        109,
        176,
        178,
        185,
        188,
        193,
        195,
        212,
        213,
        217,
        24,
        64,
        66,
        70,
        72,
        98,
        99,
        142,
        174,
    ]
    addresses = [
        f"{rnd.choice(first)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
        for _ in range(40_000)
    ]
    surfaces = [s for s, _ in SURFACES]
    weights = [w for _, w in SURFACES]
    out = []
    for i in range(n):
        day = rnd.randrange(DAYS)
        hour = min(23, max(0, int(rnd.gauss(15, 5))))
        start = MONTH + timedelta(days=day, hours=hour, seconds=rnd.randrange(3600))
        surface = rnd.choices(surfaces, weights)[0]
        seconds = min(int(rnd.lognormvariate(7.0, 1.0)), 6 * 3600)
        address = addresses[int(rnd.paretovariate(1.2)) % len(addresses)]
        agent = AGENTS[int(rnd.paretovariate(1.5)) % len(AGENTS)]
        channel = "tv" if surface == Surface.TV_HLS else "fm"
        episode = None
        if surface in (Surface.PODCAST, Surface.VOD):
            channel, episode = None, rnd.choice(episodes)
        a = Arrival(f"b:{i}", surface, start, address, agent, channel, "/fm.mp3", episode)
        out.append((a, start + timedelta(seconds=seconds), seconds, seconds * 16_000))
    out.sort(key=lambda w: w[0].at)  # as a station's sessions arrive: in time
    return out


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def one_database(name: str, url: str, n: int, record_sample: int) -> list[tuple[str, str, str]]:
    migrate.upgrade(url)
    db = Database(url)
    lines: list[tuple[str, str, str]] = []
    try:
        episodes = catalogue(db)
        whole = sessions(n, episodes)
        ledger = Ledger(db)
        ledger.countries.country("85.132.1.1")  # load the country database outside the clock
        sample = whole[:record_sample]
        s, _ = timed(lambda: [ledger.record(*w) for w in sample])
        lines.append((f"{name}: ingest, Ledger.record", f"{len(sample) / s:,.0f} sessions/s", ""))
        rest = whole[record_sample:]
        batch = 20_000
        s, _ = timed(
            lambda: [ledger.record_many(rest[i : i + batch]) for i in range(0, len(rest), batch)]
        )
        lines.append(
            (f"{name}: ingest, Ledger.record_many", f"{len(rest) / s:,.0f} sessions/s", "")
        )
        rollups = Rollups(db)
        s, rolled = timed(rollups.roll_up)
        lines.append(
            (f"{name}: roll up {rolled:,} sessions", f"{s:.1f} s", f"{rolled / s:,.0f} sessions/s")
        )
        # what a running station has beside the rollups: the last minutes' sessions, open
        for i in range(300):
            at = MONTH + timedelta(days=DAYS - 1, hours=23, seconds=i)
            ledger.open(
                Arrival(
                    f"open:{i}",
                    Surface.RELAY,
                    at,
                    f"85.132.{i % 250}.9",
                    AGENTS[i % 5],
                    "fm",
                    "/fm.mp3",
                )
            )
        reports = Reports(db)
        baku = ZoneInfo("Asia/Baku")
        month = (MONTH, MONTH + timedelta(days=DAYS))
        for g in (
            Grouping.DAY,
            Grouping.CHANNEL,
            Grouping.COUNTRY,
            Grouping.PROGRAMME,
            Grouping.HOUR,
            Grouping.TOTAL,
        ):
            q = Query(*month, g, tz=baku)
            reports.report(q)  # warm the database's cache, as a second asking would
            s, r = timed(lambda q=q: reports.report(q))
            verdict = "PASS" if s < TARGET_S else "FAIL"
            lines.append(
                (
                    f"{name}: report by {g} ({len(r.rows)} rows), rollups",
                    f"{s:.3f} s",
                    f"{s / TARGET_S:.2f}× target: {verdict}",
                )
            )
        for g in (Grouping.DAY, Grouping.COUNTRY):
            q = Query(*month, g, tz=baku)
            s, r = timed(lambda q=q: reports.report(q, use_rollups=False))
            same = r.total == reports.report(q).total
            lines.append(
                (
                    f"{name}: report by {g}, raw sessions only",
                    f"{s:.3f} s",
                    f"{s / TARGET_S:.1f}× target (reference); same figures: {same}",
                )
            )
        t = reports.report(Query(*month))
        lines.append(
            (
                f"{name}: the month",
                f"{t.total.sessions:,} sessions, {t.total.hours:,.0f} TLH",
                f"{t.total.uniques:,} uniques, peak {t.total.peak_concurrent}",
            )
        )
    finally:
        db.dispose()
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=1_000_000)
    p.add_argument(
        "--record-sample",
        type=int,
        default=5_000,
        help="sessions through Ledger.record one at a time",
    )
    p.add_argument(
        "--database-url",
        default=DEFAULT_PG,
        help="PostgreSQL server (a scratch database is made there); 'none' skips",
    )
    args = p.parse_args()
    lines: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-audience-") as d:
        url = f"sqlite:///{Path(d) / 'audience.db'}"
        lines += one_database("SQLite", url, args.sessions, args.record_sample)
    if args.database_url.lower() != "none":
        with scratch_database(args.database_url, "bench_audience") as url:
            lines += one_database("PostgreSQL", url, args.sessions, args.record_sample)
    print(f"Audience reports, {args.sessions:,} sessions over {DAYS} days; target < {TARGET_S:g} s")
    width = max(len(a) for a, _, _ in lines)
    for a, b, c in lines:
        print(f"{a:<{width}}  {b:>22}  {c}")
    failed = any("FAIL" in c for _, _, c in lines)
    print("FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
