"""The demo's two channels and their schedule, built from the demo catalogue.

Diaspor.FM runs a music clock around the clock (station ID at :00, news at :30, music in
between, crossfaded). Diaspor TV shows the three episodes of "Vətən uzaqda deyil" back to
back. Every rule recurs without end, so the schedule never runs out.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from diaspor.compose import Station

log = logging.getLogger(__name__)
ACTOR = "demo"
EPOCH = datetime(2026, 1, 1)  # noqa: DTZ001 (wall-clock time in the channel's zone)


def load_demo_schedule(station: Station) -> None:
    sch = station.schedules
    if sch.find("channel"):
        return
    items = station.library.list(limit=200).items
    by_kind: dict[str, list[int]] = {}
    for m in sorted(items, key=lambda m: m.id):
        by_kind.setdefault(m.kind, []).append(m.id)
    episodes = sorted((m for m in items if m.kind == "programme"), key=lambda m: m.original_name)

    music = sch.create(
        "playlist",
        {
            "name": "Musiqi",
            "shuffle": True,
            "media_ids": by_kind.get("music", []),
            "artist_separation_s": 120,
            "track_separation_s": 1200,
        },
        ACTOR,
    )
    news = sch.create(
        "playlist", {"name": "Xəbərlər", "media_ids": by_kind.get("speech", [])}, ACTOR
    )
    filler = sch.create("playlist", {"name": "Fon", "media_ids": by_kind.get("filler", [])}, ACTOR)
    jingles = by_kind.get("jingle", [])
    clock = sch.create(
        "clock",
        {
            "name": "Musiqi saatı",
            "slots": [
                {
                    "at_s": 0,
                    "source": "media",
                    "ref_id": jingles[0],
                    "hard": True,
                    "title": "Stansiya nişanı",
                },
                {"at_s": 0, "source": "playlist", "ref_id": music.id, "fill": True},
                {
                    "at_s": 1800,
                    "source": "playlist",
                    "ref_id": news.id,
                    "hard": True,
                    "title": "Xəbərlər",
                },
                {"at_s": 1800, "source": "playlist", "ref_id": music.id, "fill": True},
            ],
        },
        ACTOR,
    )

    # Made with no freeze horizon so the demo is on air at once; the usual 2 minutes after.
    radio = sch.create(
        "channel",
        {
            "slug": "diaspor-fm",
            "kind": "radio",
            "names": {"az": "Diaspor.FM", "en": "Diaspor.FM", "ru": "Диаспор.FM"},
            "descriptions": {
                "az": "Dünya azərbaycanlılarının radiosu",
                "en": "The radio of Azerbaijanis around the world",
                "ru": "Радио азербайджанцев мира",
            },
            "crossfade_ms": 3000,
            "filler_playlist_id": filler.id,
            "freeze_horizon_s": 0,
        },
        ACTOR,
    )
    tv = sch.create(
        "channel",
        {
            "slug": "diaspor-tv",
            "kind": "tv",
            "names": {"az": "Diaspor TV", "en": "Diaspor TV", "ru": "Диаспор ТВ"},
            "descriptions": {
                "az": "Dünyada yaşayan azərbaycanlıları tanıyaq-tanıdaq",
                "en": "Meet Azerbaijanis living around the world",
                "ru": "Знакомимся с азербайджанцами всего мира",
            },
            "freeze_horizon_s": 0,
        },
        ACTOR,
    )
    programme = sch.create(
        "programme",
        {
            "slug": "veten-uzaqda-deyil",
            "titles": {
                "az": "Vətən uzaqda deyil",
                "en": "Homeland Is Not Far",
                "ru": "Родина недалеко",
            },
            "descriptions": {
                "az": "Xaricdə yaşayan soydaşlarımızla müsahibələr, "
                "layihələr haqqında reportajlar.",
                "en": "Interviews with compatriots abroad and reports on their projects.",
                "ru": "Интервью с соотечественниками за рубежом и репортажи об их проектах.",
            },
            "categories": ["Documentary"],
            "artwork_media_id": episodes[0].id if episodes else None,
        },
        ACTOR,
    )
    episode_ids = []
    for n, m in enumerate(episodes, 1):
        ep = sch.create(
            "episode",
            {
                "programme_id": programme.id,
                "season": 1,
                "number": n,
                "titles": {k: v.split(" — ", 1)[-1] for k, v in m.titles.items()},
                "media_id": m.id,
            },
            ACTOR,
        )
        episode_ids.append((ep.id, m.duration_ms or 40_000))

    sch.create(
        "entry",
        {
            "channel_id": radio.id,
            "target_type": "clock",
            "target_id": clock.id,
            "start_local": EPOCH,
            "rrule": "FREQ=DAILY",
            "duration_ms": 86_400_000,
            "hard": False,
        },
        ACTOR,
    )
    # The three episodes back to back, the cycle starting every few minutes.
    cycle_ms = sum(d for _, d in episode_ids)
    cycle_min = max(1, -(-cycle_ms // 60_000))
    offset_ms = 0
    for ep_id, duration in episode_ids:
        start = EPOCH + timedelta(milliseconds=offset_ms)
        sch.create(
            "entry",
            {
                "channel_id": tv.id,
                "target_type": "programme",
                "target_id": programme.id,
                "episode_id": ep_id,
                "start_local": start,
                "rrule": f"FREQ=MINUTELY;INTERVAL={cycle_min}",
            },
            ACTOR,
        )
        offset_ms += duration
    for ch in (radio, tv):
        sch.update("channel", ch.id, ch.version, {"freeze_horizon_s": 120}, ACTOR)
    log.info("demo schedule made: Diaspor.FM and Diaspor TV, recurring without end")
