"""A small station for schedule tests: real media in the library, an editor's API client,
and a clock the test moves."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select, text

from accounts.tokens import create_token
from api.app import create_app
from diaspor import migrate
from diaspor.compose import Station, build_station
from media.binaries import Tools
from media.library import IngestOptions
from playout.asrun_rows import AsRunRow
from station.clock import SimulatedClock
from station.db import Base
from tests.conftest import settings_for
from tests.support import run, serve_app, tone

BAKU = ZoneInfo("Asia/Baku")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=BAKU)  # a Thursday; the last Sunday is the 29th


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> dict[str, Path]:
    return library_files(tmp_path_factory.mktemp("library"), tools.ffmpeg)


@dataclass(frozen=True)
class Ingested:
    """The library as ingest and analysis left it, once per session: every table's rows and
    the storage folder. Each desk starts from a copy, not from seven more ingests."""

    rows: dict[str, list[dict[str, Any]]]
    storage: Path
    media: dict[str, int]


@pytest.fixture(scope="session")
def ingested(
    tmp_path_factory: pytest.TempPathFactory, tools: Tools, library: dict[str, Path]
) -> Ingested:
    root = tmp_path_factory.mktemp("ingested")
    url = f"sqlite:///{root / 'template.db'}"
    migrate.upgrade(url)
    st = build_station(settings_for(root, url), tools=tools, clock=SimulatedClock(NOW))
    try:
        media = {}
        for key, path in library.items():
            res = run(st.library.ingest(path, options=IngestOptions(kind=KINDS[key])))
            media[key] = res.item.id
        run(st.worker().drain())
        with st.db.engine.connect() as c:
            rows = {
                t.name: [dict(r) for r in c.execute(select(t)).mappings()]
                for t in Base.metadata.sorted_tables
            }
        return Ingested(rows, st.settings.storage_dir, media)  # type: ignore[arg-type]
    finally:
        st.close()


def restore(st: Station, ingested: Ingested) -> None:
    """The ingested library into a fresh station: its rows (ids kept, id sequences moved on
    past them on PostgreSQL) and a copy of its stored files."""
    shutil.copytree(ingested.storage, st.settings.storage_dir, dirs_exist_ok=True)  # type: ignore[arg-type]
    with st.db.engine.begin() as c:
        for table in Base.metadata.sorted_tables:
            rows = ingested.rows[table.name]
            if not rows:
                continue
            c.execute(insert(table), rows)
            if c.dialect.name == "postgresql" and "id" in table.c:
                c.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f'(SELECT max(id) FROM "{table.name}"))'
                    )
                )


@pytest.fixture
def desk(tmp_path: Path, db_url: str, tools: Tools, ingested: Ingested) -> Iterator[Desk]:
    with schedule_desk(tmp_path, db_url, tools, ingested) as d:
        yield d


def library_files(folder: Path, ffmpeg: str) -> dict[str, Path]:
    """Songs by three artists, a station ID, a news bulletin, a filler bed, a programme."""
    files = {
        "song1": tone(
            ffmpeg,
            folder / "song1.mp3",
            seconds=40,
            freq=330,
            tags={"title": "Sarı gəlin", "artist": "Rəşid Behbudov"},
        ),
        "song2": tone(
            ffmpeg,
            folder / "song2.mp3",
            seconds=35,
            freq=392,
            tags={"title": "Ayrılıq", "artist": "Zeynəb Xanlarova"},
        ),
        "song3": tone(
            ffmpeg,
            folder / "song3.mp3",
            seconds=45,
            freq=440,
            tags={"title": "Laçın", "artist": "Müslüm Maqomayev"},
        ),
        "id": tone(ffmpeg, folder / "id.mp3", seconds=4, freq=880, tags={"title": "Diaspor.FM"}),
        "news": tone(
            ffmpeg,
            folder / "news.mp3",
            seconds=20,
            freq=200,
            tags={"title": "Xəbərlər", "genre": "Speech"},
        ),
        "bed": tone(ffmpeg, folder / "bed.mp3", seconds=12, freq=110, tags={"title": "Fon"}),
        "show": tone(
            ffmpeg, folder / "show.mp3", seconds=90, freq=250, tags={"title": "Vətən uzaqda deyil"}
        ),
    }
    return files


KINDS = {
    "song1": "music",
    "song2": "music",
    "song3": "music",
    "id": "jingle",
    "news": "speech",
    "bed": "filler",
    "show": "programme",
}


@dataclass
class Desk:
    """An editor at the schedule desk: the station, an API client and the media ids."""

    station: Station
    clock: SimulatedClock
    client: httpx.Client
    media: dict[str, int]
    app: FastAPI

    def post(self, path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
        r = self.client.post(f"/api/v1/manage/{path}", json=body)
        assert r.status_code == status, r.text
        out: dict[str, Any] = r.json()
        return out

    def etag(self, path: str) -> str:
        return self.client.get(f"/api/v1/manage/{path}").headers["etag"]

    def played_before(self, hours_ago: Iterable[int]) -> None:
        """ "Ayrılıq" in the radio's as-run log, as playout would have logged it that many
        hours before now."""
        now = self.clock.now()
        with self.station.db.session() as s:
            for h in hours_ago:
                s.add(
                    AsRunRow(
                        channel="diaspor-fm",
                        planned_start=now - timedelta(hours=h),
                        actual_start=now - timedelta(hours=h),
                        planned_ms=40_000,
                        kind="music",
                        media_id=self.media["song2"],
                        entry_id=None,
                        title="Ayrılıq",
                        artist="Zeynəb Xanlarova",
                        outcome="played",
                    )
                )


@contextmanager
def schedule_desk(tmp_path: Path, db_url: str, tools: Tools, ingested: Ingested) -> Iterator[Desk]:
    clock = SimulatedClock(NOW)
    st = build_station(settings_for(tmp_path, db_url), tools=tools, clock=clock)
    try:
        restore(st, ingested)
        media = dict(ingested.media)
        token = create_token(st.db, clock, "Günay", "editor")
        app = create_app(st)
        with (
            serve_app(app) as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as client,
        ):
            yield Desk(st, clock, client, media, app)
    finally:
        st.close()


def build_radio_week(desk: Desk) -> dict[str, Any]:
    """Diaspor.FM: a music clock all day (ID at :00, news at :30), and a monthly programme."""
    m = desk.media
    music = desk.post(
        "playlists",
        {
            "name": "Musiqi",
            "shuffle": True,
            "media_ids": [m["song1"], m["song2"], m["song3"]],
            "artist_separation_s": 60,
        },
    )
    news = desk.post("playlists", {"name": "Xəbərlər", "media_ids": [m["news"]]})
    filler = desk.post("playlists", {"name": "Fon", "media_ids": [m["bed"]]})
    clock = desk.post(
        "clocks",
        {
            "name": "Musiqi saatı",
            "slots": [
                {"at_s": 0, "source": "media", "ref_id": m["id"], "hard": True},
                {"at_s": 0, "source": "playlist", "ref_id": music["id"], "fill": True},
                {"at_s": 1800, "source": "playlist", "ref_id": news["id"], "hard": True},
                {"at_s": 1800, "source": "playlist", "ref_id": music["id"], "fill": True},
            ],
        },
    )
    channel = desk.post(
        "channels",
        {
            "slug": "diaspor-fm",
            "kind": "radio",
            "names": {"az": "Diaspor.FM", "en": "Diaspor.FM", "ru": "Диаспор.FM"},
            "descriptions": {
                "az": "Dünya azərbaycanlılarının radiosu",
                "en": "The radio of Azerbaijanis around the world",
            },
            "crossfade_ms": 2000,
            "filler_playlist_id": filler["id"],
            "streams": [
                {"url": "http://radio.example/diaspor.mp3", "format": "mp3", "bitrate": 128}
            ],
        },
    )
    programme = desk.post(
        "programmes",
        {
            "slug": "veten-uzaqda-deyil",
            "titles": {
                "az": "Vətən uzaqda deyil",
                "en": "Homeland Is Not Far",
                "ru": "Родина недалеко",
            },
            "descriptions": {"az": "Xaricdə yaşayan soydaşlarımızla müsahibələr"},
            "categories": ["Documentary"],
        },
    )
    episode = desk.post(
        "episodes",
        {
            "programme_id": programme["id"],
            "season": 1,
            "number": 3,
            "titles": {"az": "Berlin icması", "en": "Berlin"},
            "media_id": m["show"],
            "air_date": "2026-11-29",
        },
    )
    background = desk.post(
        "entries",
        {
            "channel_id": channel["id"],
            "target_type": "clock",
            "target_id": clock["id"],
            "start_local": "2026-11-01T00:00:00",
            "rrule": "FREQ=DAILY",
            "duration_ms": 86_400_000,
            "hard": False,
        },
    )
    monthly = desk.post(
        "entries",
        {
            "channel_id": channel["id"],
            "target_type": "programme",
            "target_id": programme["id"],
            "start_local": "2026-01-25T20:00:00",
            "rrule": "FREQ=MONTHLY;BYDAY=-1SU",
        },
    )
    return {
        "channel": channel,
        "programme": programme,
        "episode": episode,
        "clock": clock,
        "music": music,
        "background": background,
        "monthly": monthly,
    }
