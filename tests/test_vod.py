"""The on-demand catalogue, as the website and the mobile app read it.

Two short videos are ingested through the real library and packaged by the real job (a
one-rung ladder keeps it quick), once per database; each test then builds the catalogue of
"Vətən uzaqda deyil" over the editors' API and reads it over HTTP from a real uvicorn, fetching
the playlists it points at. The availability rule itself is checked as a pure function first.
"""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import delete

from accounts.tokens import create_token
from api.app import create_app
from api.paging import BadCursor, decode_cursor, encode_cursor, int_key
from diaspor import migrate
from diaspor.compose import Station, build_station
from media.binaries import Tools
from media.ladder import PackagingOptions, parse_ladder
from media.library import IngestOptions
from playout.asrun_rows import AsRunRow
from schedules.models import (
    AuditRow,
    ChannelRow,
    ClockRow,
    EntryRow,
    EpisodeRow,
    PlaylistRow,
    ProgrammeRow,
    search_fold,
)
from schedules.vod import (
    EXPIRED,
    NOT_PACKAGED,
    NOT_YET,
    availability,
)
from tests.conftest import _truncate, settings_for
from tests.support import run, serve_app, tone, video_clip

BAKU = ZoneInfo("Asia/Baku")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=BAKU)  # 08:00 UTC
PROBLEM = "application/problem+json"
OPTIONS = PackagingOptions(
    ladder=parse_ladder(["90p:160x90:120"]), segment_s=2, fps=25, thumb_interval_s=2
)


# --- the rule, as a pure function ---------------------------------------------------------------


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=BAKU).astimezone(UTC)


@pytest.mark.parametrize(
    ("case", "want"),
    [
        ({"packaged": False, "air_date": date(2026, 11, 1)}, (False, NOT_PACKAGED)),
        ({"air_date": date(2026, 11, 1)}, (True, None)),
        ({"air_date": date(2026, 11, 26)}, (True, None)),  # today, in Baku
        ({"air_date": date(2026, 11, 27)}, (False, NOT_YET)),
        ({}, (False, NOT_YET)),  # never aired, no window
        ({"first_aired": at(26, 11)}, (True, None)),  # catch-up
        ({"available_from": at(28)}, (False, NOT_YET)),
        ({"available_from": at(28), "first_aired": at(25)}, (False, NOT_YET)),  # editors rule
        ({"available_from": at(20), "available_until": at(26, 12)}, (False, EXPIRED)),
        ({"available_from": at(20), "available_until": at(26, 13)}, (True, None)),
        ({"available_until": at(1), "air_date": date(2026, 12, 1)}, (False, EXPIRED)),
    ],
)
def test_the_availability_rule(case: dict[str, Any], want: tuple[bool, str | None]) -> None:
    args: dict[str, Any] = {
        "packaged": True,
        "available_from": None,
        "available_until": None,
        "first_aired": None,
        "air_date": None,
        "zone": BAKU,
        "now": at(26, 12),
    }
    a = availability(**{**args, **case})
    assert (a.on_demand, a.reason) == want


def test_air_date_is_a_day_in_the_channels_zone_and_catch_up_takes_the_first_airing() -> None:
    now = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)  # the 26th in Baku, the 25th in New York
    kw: dict[str, Any] = {
        "packaged": True,
        "available_from": None,
        "available_until": None,
        "first_aired": None,
        "air_date": date(2026, 11, 26),
        "now": now,
    }
    assert availability(**kw, zone=BAKU).on_demand
    late = availability(**kw, zone=ZoneInfo("America/New_York"))
    assert (late.on_demand, late.reason) == (False, NOT_YET)
    assert late.start == datetime(2026, 11, 26, 5, tzinfo=UTC)
    early = availability(
        **{**kw, "first_aired": datetime(2026, 11, 25, 21, tzinfo=UTC)},
        zone=ZoneInfo("America/New_York"),
    )
    assert early.on_demand and early.start == datetime(2026, 11, 25, 21, tzinfo=UTC)


def test_search_folds_case_accents_and_azerbaijani_letters() -> None:
    assert (
        search_fold("Vətən uzaqda deyil")
        == search_fold("VƏTƏN UZAQDA DEYİL")
        == ("veten uzaqda deyil")
    )
    assert search_fold("Qarabağ şəhəri, Gəncə") == "qarabag seheri, gence"
    assert search_fold("Ёлка РОДИНА") == "елка родина"


def test_cursors_are_opaque_and_checked() -> None:
    cursor = encode_cursor("vod", (1, 2147483647, 40))
    assert int_key(cursor, "vod", 3) == (1, 2147483647, 40)
    assert decode_cursor(encode_cursor("users", ("ağa",)), "users", (str,)) == ("ağa",)
    for bad in (
        "nonsense!",
        encode_cursor("vod", (1, 2)),
        "dm9kOmE=",
        encode_cursor("id", (1,)),
        encode_cursor("vod", (1, "2", 3)),
        encode_cursor("vod", (1, True, 3)),
    ):
        with pytest.raises(BadCursor):
            int_key(bad, "vod", 3)


# --- a station with packaged episodes, once per database -----------------------------------------


class ManualClock:
    """The catalogue's idea of now, set by the test."""

    def __init__(self, now: datetime) -> None:
        self.at = now.astimezone(UTC)

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass
class Vod:
    station: Station
    clock: ManualClock
    public: httpx.Client  # no token: what a player or the website has
    editor: httpx.Client
    media: dict[str, int]
    ids: dict[str, int]  # episode ids by a short name, per test

    def get(self, path: str, status: int = 200, **kw: Any) -> Any:
        r = self.public.get(path, **kw)
        assert r.status_code == status, r.text
        return r.json()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.editor.post(f"/api/v1/manage/{path}", json=body)
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        return out

    def fetch(self, url: str) -> httpx.Response:
        """What a player does with a URL the API gave out."""
        r = httpx.get(url, timeout=10)
        assert r.status_code == 200, url
        return r


def clip(ffmpeg: str, dest: Path, pattern: str, freq: int) -> Path:
    return video_clip(ffmpeg, dest, pattern, freq, "-metadata", "title=Vətən uzaqda deyil")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("vod")
    files = {
        "a": clip(tools.ffmpeg, d / "berlin.mp4", "testsrc2", 440),
        "b": clip(tools.ffmpeg, d / "tiflis.mp4", "testsrc", 660),
        "radio": tone(tools.ffmpeg, d / "baki.mp3", seconds=3, tags={"title": "Bakı radiosu"}),
    }
    for lang, text in {
        "az": "Xoş gəlmisiniz!",
        "en": "Welcome!",
        "ru": "Добро пожаловать!",
    }.items():
        files[lang] = d / f"berlin.{lang}.vtt"
        files[lang].write_text(f"WEBVTT\n\n00:00:00.500 --> 00:00:01.500\n{text}\n", "utf-8")
    return files


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def vod_station(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    tools: Tools,
    clips: dict[str, Path],
) -> Iterator[Vod]:
    d = tmp_path_factory.mktemp("station")
    if request.param == "sqlite":
        url = f"sqlite:///{d / 'test.db'}"
        migrate.upgrade(url)
    else:
        url = str(request.getfixturevalue("pg_database"))
        _truncate(url)
    clock = ManualClock(NOW)
    st = build_station(settings_for(d, url), tools=tools, clock=clock)
    st.library.packaging = OPTIONS
    try:
        subs = {k: clips[k] for k in ("az", "en", "ru")}
        media = {
            "a": run(st.library.ingest(clips["a"], options=IngestOptions(subtitles=subs))).item.id,
            "b": run(st.library.ingest(clips["b"])).item.id,
            "radio": run(
                st.library.ingest(clips["radio"], options=IngestOptions(kind="programme"))
            ).item.id,
        }
        run(st.worker().drain())
        for key in ("a", "b"):
            assert st.library.get(media[key]).package_status == "ready"
        token = create_token(st.db, clock, "Günay", "editor")
        with (
            serve_app(create_app(st)) as base,
            httpx.Client(base_url=base, timeout=30) as public,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as editor,
        ):
            st.settings.public_url = base  # so the URLs handed out reach this server
            yield Vod(st, clock, public, editor, media, {})
    finally:
        st.close()


@pytest.fixture
def vod(vod_station: Vod) -> Vod:
    """A fresh catalogue on the shared station (the packaged media stay)."""
    v = vod_station
    v.clock.at = NOW.astimezone(UTC)
    with v.station.db.session() as s:
        for model in (
            AsRunRow,
            AuditRow,
            EntryRow,
            EpisodeRow,
            ProgrammeRow,
            ChannelRow,
            PlaylistRow,
            ClockRow,
        ):
            s.execute(delete(model))
    v.ids = build_catalogue(v)
    return v


def build_catalogue(v: Vod) -> dict[str, int]:
    """Two programmes; the first with two seasons, a special and every kind of availability."""
    m = v.media
    tv = v.post(
        "channels",
        {"slug": "diaspor-tv", "kind": "tv", "names": {"az": "Diaspor TV", "en": "Diaspor TV"}},
    )
    veten = v.post(
        "programmes",
        {
            "slug": "veten-uzaqda-deyil",
            "titles": {
                "az": "Vətən uzaqda deyil",
                "en": "Homeland Is Not Far",
                "ru": "Родина недалеко",
            },
            "descriptions": {
                "az": "Diasporun həyatından aylıq veriliş",
                "en": "A monthly programme about diaspora life",
            },
            "categories": ["Diaspora", "Documentary"],
            "presenters": ["Aysel Məmmədova"],
            "artwork_media_id": m["a"],
        },
    )
    world = v.post(
        "programmes",
        {
            "slug": "dunyada-yasayan-azerbaycanlilar",
            "titles": {
                "az": "Dünyada yaşayan azərbaycanlıları tanıyaq-tanıdaq",
                "en": "Meet Azerbaijanis Around the World",
                "ru": "Знакомьтесь: азербайджанцы мира",
            },
        },
    )

    def episode(programme: dict[str, Any], **body: Any) -> int:
        return int(v.post("episodes", {"programme_id": programme["id"], **body})["id"])

    ids = {
        "berlin": episode(
            veten,
            season=1,
            number=1,
            media_id=m["a"],
            air_date="2026-11-01",
            titles={"az": "Berlin icması", "en": "The Berlin community", "ru": "Берлинская община"},
            descriptions={"az": "Berlindəki azərbaycanlılar", "en": "Azerbaijanis in Berlin"},
        ),
        "paris": episode(
            veten,
            season=1,
            number=2,
            media_id=m["a"],
            titles={"az": "Paris gecələri", "en": "Paris nights"},
            available_from="2026-11-28T00:00:00+04:00",
        ),
        "london": episode(
            veten,
            season=1,
            number=3,
            media_id=m["a"],
            titles={"az": "London", "en": "London"},
            available_from="2026-10-01T00:00:00Z",
            available_until="2026-11-20T00:00:00Z",
        ),
        "qarabag": episode(
            veten, season=1, number=4, titles={"az": "Qarabağ"}, air_date="2026-11-01"
        ),
        "radio": episode(
            veten,
            season=2,
            number=1,
            media_id=m["radio"],
            air_date="2026-11-01",
            titles={"az": "Bakı radiosu"},
        ),
        "tiflis": episode(
            veten, season=2, number=2, media_id=m["b"], titles={"az": "Tiflis", "ru": "Тбилиси"}
        ),
        "istanbul": episode(
            veten,
            season=2,
            number=3,
            media_id=m["a"],
            air_date="2026-11-26",
            titles={"az": "İstanbul", "en": "Istanbul", "ru": "Стамбул"},
        ),
        "yeni-il": episode(
            veten,
            media_id=m["a"],
            air_date="2025-12-31",
            titles={"az": "Yeni il xüsusi", "en": "New Year special"},
        ),
        "letter": episode(
            world,
            season=1,
            number=1,
            media_id=m["a"],
            air_date="2026-11-10",
            titles={"az": "Vətənə məktub", "en": "A letter home", "ru": "Письмо на родину"},
        ),
    }
    v.post(
        "entries",
        {
            "channel_id": tv["id"],
            "target_type": "programme",
            "target_id": veten["id"],
            "episode_id": ids["berlin"],
            "start_local": "2026-11-27T20:00:00",
        },
    )
    return ids


def as_run(v: Vod, media: int, start: datetime, outcome: str = "played") -> None:
    with v.station.db.session() as s:
        s.add(
            AsRunRow(
                channel="diaspor-tv",
                planned_start=start,
                actual_start=start,
                planned_ms=4000,
                kind="programme",
                media_id=media,
                entry_id=None,
                title="Tiflis",
                artist="",
                outcome=outcome,
            )
        )


ON_DEMAND = ["berlin", "istanbul", "yeni-il"]  # of Vətən uzaqda deyil, on the 26th at noon


# --- the catalogue over HTTP ---------------------------------------------------------------------


def test_programmes_come_in_the_language_asked_for_with_azerbaijani_for_what_is_missing(
    vod: Vod,
) -> None:
    r = vod.public.get("/api/v1/programmes", params={"lang": "ru"})
    assert r.status_code == 200 and r.headers["content-language"] == "ru"
    veten, world = sorted(r.json()["items"], key=lambda p: p["slug"], reverse=True)
    assert veten["slug"] == "veten-uzaqda-deyil"
    assert veten["title"] == "Родина недалеко"
    assert veten["description"] == "Diasporun həyatından aylıq veriliş"  # no Russian: az
    assert veten["titles"] == {
        "az": "Vətən uzaqda deyil",
        "en": "Homeland Is Not Far",
        "ru": "Родина недалеко",
    }
    assert set(veten["descriptions"]) == {"az", "en"}
    assert veten["categories"] == ["Diaspora", "Documentary"]
    assert veten["presenters"] == ["Aysel Məmmədova"]
    assert (veten["episodes"], veten["episodes_on_demand"]) == (8, len(ON_DEMAND))
    assert vod.fetch(veten["artwork"]).content[:3] == b"\xff\xd8\xff"  # a JPEG
    assert (world["episodes"], world["episodes_on_demand"], world["artwork"]) == (1, 1, None)
    assert world["description"] is None
    en = vod.get("/api/v1/programmes", headers={"Accept-Language": "en-GB,en;q=0.9,az;q=0.5"})
    assert {p["title"] for p in en["items"]} == {
        "Homeland Is Not Far",
        "Meet Azerbaijanis Around the World",
    }
    assert {p["title"] for p in vod.get("/api/v1/programmes")["items"]} == {
        "Vətən uzaqda deyil",
        "Dünyada yaşayan azərbaycanlıları tanıyaq-tanıdaq",
    }


def test_a_programme_shows_its_seasons_and_why_an_episode_cannot_be_watched(vod: Vod) -> None:
    p = vod.get("/api/v1/programmes/veten-uzaqda-deyil", params={"lang": "ru"})
    assert p["title"] == "Родина недалеко" and p["episodes_on_demand"] == 3
    assert [s["season"] for s in p["seasons"]] == [1, 2, None]
    names = {v: k for k, v in vod.ids.items()}
    got = {names[e["id"]]: e for s in p["seasons"] for e in s["episodes"]}
    assert [names[e["id"]] for s in p["seasons"] for e in s["episodes"]] == [
        "berlin",
        "paris",
        "london",
        "qarabag",
        "radio",
        "tiflis",
        "istanbul",
        "yeni-il",
    ]
    reasons = {
        k: (e["availability"]["on_demand"], e["availability"]["reason"]) for k, e in got.items()
    }
    assert reasons == {
        "berlin": (True, None),
        "paris": (False, "not-yet"),
        "london": (False, "expired"),
        "qarabag": (False, "not-packaged"),
        "radio": (False, "not-packaged"),
        "tiflis": (False, "not-yet"),
        "istanbul": (True, None),
        "yeni-il": (True, None),
    }
    berlin = got["berlin"]
    assert berlin["title"] == "Берлинская община"
    assert berlin["description"] == "Berlindəki azərbaycanlılar"  # field by field: az
    assert got["paris"]["title"] == "Paris gecələri"  # no Russian title: az
    assert (berlin["programme"], berlin["season"], berlin["number"]) == ("veten-uzaqda-deyil", 1, 1)
    assert berlin["air_date"] == "2026-11-01" and 3900 <= berlin["duration_ms"] <= 4100
    assert berlin["availability"]["available_from"] == "2026-10-31T20:00:00Z"  # midnight, Baku
    assert got["paris"]["availability"]["available_from"] == "2026-11-27T20:00:00Z"
    assert got["london"]["availability"]["available_until"] == "2026-11-20T00:00:00Z"
    assert got["tiflis"]["availability"]["available_from"] is None
    assert vod.fetch(berlin["image"]).content[:3] == b"\xff\xd8\xff"


def test_an_episode_on_demand_points_at_its_published_package(vod: Vod) -> None:
    e = vod.get(f"/api/v1/episodes/{vod.ids['berlin']}", params={"lang": "en"})
    assert e["title"] == "The Berlin community" and e["programme_title"] == "Homeland Is Not Far"
    assert e["titles"]["az"] == "Berlin icması" and e["descriptions"]["en"] == (
        "Azerbaijanis in Berlin"
    )
    assert e["availability"]["on_demand"] is True
    media = vod.media["a"]
    published = vod.station.library.package_of(media)
    assert published is not None and published.prefix.startswith(f"hls/assets/{media}/")
    assert e["hls"].endswith(f"/files/{published.prefix}/master.m3u8")  # unguessable
    assert vod.station.storage.exists(published.key("master.m3u8"))
    master = vod.fetch(e["hls"]).text
    assert master.startswith("#EXTM3U") and "#EXT-X-STREAM-INF" in master
    assert "TYPE=SUBTITLES" in master
    variants = [ln for ln in master.splitlines() if ln and not ln.startswith("#")]
    assert variants
    base = e["hls"].rsplit("/", 1)[0]
    for variant in variants:
        playlist = vod.fetch(f"{base}/{variant}").text
        assert "#EXT-X-ENDLIST" in playlist  # VOD: the whole asset
    audio = vod.fetch(e["audio"]).text
    assert "#EXTINF" in audio and e["audio"].endswith("/audio/index.m3u8")
    assert e["audio_file"].endswith(f"/{published.prefix}/audio.m4a")
    # A podcast app gets the episode's sound as one file, its length told right.
    feed = ET.fromstring(
        vod.public.get("/api/v1/programmes/veten-uzaqda-deyil/podcast.xml").content
    )
    [enclosure] = [
        i.find("enclosure")
        for i in feed.iter("item")
        if i.findtext("guid", "").endswith(f":episode:{vod.ids['berlin']}")
    ]
    assert enclosure is not None and enclosure.get("url") == e["audio_file"]
    sound = vod.fetch(e["audio_file"]).content
    assert enclosure.get("type") == "audio/mp4" and int(enclosure.get("length", 0)) == len(sound)
    assert sound[4:8] == b"ftyp"  # an MP4 file, not a playlist
    subs = {s["lang"]: s for s in e["subtitles"]}
    assert set(subs) == {"az", "en", "ru"} and subs["az"]["name"] == "Azərbaycanca"
    az = vod.fetch(subs["az"]["url"]).text
    first = next(ln for ln in az.splitlines() if ln.endswith(".vtt"))
    piece = vod.fetch(subs["az"]["url"].rsplit("/", 1)[0] + "/" + first).text
    assert "Xoş gəlmisiniz!" in piece
    for sub in e["subtitles"]:  # the same renditions the master lists
        assert f'URI="{sub["url"].removeprefix(base + "/")}"' in master
    assert "Добро пожаловать!" in vod.fetch(subs["ru"]["vtt"]).text  # the whole file too
    assert vod.fetch(e["poster"]).content[:3] == b"\xff\xd8\xff"
    assert vod.fetch(e["thumbnails"]).text.startswith("WEBVTT")
    # Its links lead a client to everything it needs next.
    links = e["links"]
    assert (links["master"], links["audio_file"], links["poster"]) == (
        e["hls"],
        e["audio_file"],
        e["poster"],
    )
    assert links["subtitles"] == {s["lang"]: s["vtt"] for s in e["subtitles"]}
    assert vod.fetch(links["self"]).json()["id"] == e["id"]
    programme = vod.fetch(links["programme"]).json()
    assert programme["slug"] == "veten-uzaqda-deyil"
    share = vod.fetch(links["share"]).text  # a page with a preview card, to share
    assert '<meta property="og:title"' in share and "Berlin" in share
    plinks = programme["links"]
    assert vod.fetch(plinks["self"]).json()["slug"] == "veten-uzaqda-deyil"
    listed = vod.fetch(plinks["episodes"]).json()["items"]
    assert e["id"] in [x["id"] for x in listed]
    assert all(x["links"]["self"].endswith(f"/api/v1/episodes/{x['id']}") for x in listed)
    assert vod.fetch(plinks["podcast"]).text.lstrip().startswith("<?xml")
    assert vod.fetch(plinks["calendar"]).text.startswith("BEGIN:VCALENDAR")
    assert "Homeland Is Not Far" in vod.fetch(plinks["page"] + "?lang=en").text
    # The guide says when it airs next, on every channel: tomorrow at 20:00 in Baku.
    [next_airing] = e["next_airings"]
    assert (next_airing["channel"], next_airing["start"]) == ("diaspor-tv", "2026-11-27T16:00:00Z")
    length = datetime.fromisoformat(next_airing["end"]) - datetime.fromisoformat(
        next_airing["start"]
    )
    assert length == timedelta(milliseconds=e["duration_ms"])
    assert e["aired"] == []
    # The library says the media is packaged.
    r = vod.editor.get(f"/api/v1/media/{media}")
    assert r.json()["package_status"] == "ready"
    radio = vod.editor.get(f"/api/v1/media/{vod.media['radio']}").json()
    assert radio["package_status"] == "none"


def test_an_episode_not_on_demand_says_why_and_hands_out_nothing_to_play(vod: Vod) -> None:
    for name, reason in (("paris", "not-yet"), ("london", "expired"), ("radio", "not-packaged")):
        e = vod.get(f"/api/v1/episodes/{vod.ids[name]}", params={"lang": "ru"})
        assert e["availability"] == {**e["availability"], "on_demand": False, "reason": reason}
        assert (e["hls"], e["audio"], e["poster"], e["subtitles"]) == (None, None, None, [])
        links = e["links"]
        assert (links["master"], links["audio_file"], links["subtitles"]) == (None, None, {})
    assert vod.get(f"/api/v1/episodes/{vod.ids['paris']}")["title"] == "Paris gecələri"


def test_an_episode_that_aired_is_on_demand_as_catch_up(vod: Vod) -> None:
    tiflis = f"/api/v1/episodes/{vod.ids['tiflis']}"
    assert vod.get(tiflis)["availability"]["reason"] == "not-yet"
    now = vod.clock.now()
    as_run(vod, vod.media["b"], now - timedelta(hours=2), outcome="skipped-missing")
    as_run(vod, vod.media["b"], now + timedelta(hours=1))  # not yet, whatever the row says
    assert vod.get(tiflis)["availability"]["reason"] == "not-yet"
    as_run(vod, vod.media["b"], now - timedelta(hours=1))
    e = vod.get(tiflis)
    assert e["availability"] == {
        "on_demand": True,
        "reason": None,
        "available_from": "2026-11-26T07:00:00Z",
        "available_until": None,
    }
    assert e["aired"] == [{"channel": "diaspor-tv", "started_at": "2026-11-26T07:00:00Z"}]
    published = vod.station.library.package_of(vod.media["b"])
    assert published is not None and e["hls"].endswith(f"/files/{published.prefix}/master.m3u8")
    assert e["subtitles"] == []
    veten = vod.get("/api/v1/programmes/veten-uzaqda-deyil")
    assert veten["episodes_on_demand"] == len(ON_DEMAND) + 1


def test_editors_set_the_window_through_the_manage_api(vod: Vod) -> None:
    path = f"/api/v1/manage/episodes/{vod.ids['tiflis']}"
    tag = vod.editor.get(path).headers["etag"]
    r = vod.editor.patch(
        path, headers={"If-Match": tag}, json={"available_from": "2026-11-27T09:00:00+04:00"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["available_from"] == "2026-11-27T05:00:00Z"  # kept in UTC
    public = f"/api/v1/episodes/{vod.ids['tiflis']}"
    assert vod.get(public)["availability"]["reason"] == "not-yet"
    vod.clock.at = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
    assert vod.get(public)["availability"]["on_demand"] is True
    tag = r.headers["etag"]
    # until before from, or a time without an offset: refused, nothing changed.
    for body in (
        {"available_until": "2026-11-27T08:59:00+04:00"},
        {"available_until": "2026-12-01T00:00:00"},
    ):
        bad = vod.editor.patch(path, headers={"If-Match": tag}, json=body)
        assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM, bad.text
    assert vod.editor.get(path).json()["available_until"] is None
    r = vod.editor.patch(
        path, headers={"If-Match": tag}, json={"available_until": "2026-11-27T06:00:00Z"}
    )
    assert r.status_code == 200, r.text
    vod.clock.at = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    assert vod.get(public)["availability"]["reason"] == "expired"
    created = vod.editor.post(
        "/api/v1/manage/episodes",
        json={
            "programme_id": vod.editor.get(path).json()["programme_id"],
            "available_from": "2026-12-01T00:00:00Z",
            "available_until": "2026-12-01T00:00:00Z",
        },
    )
    assert created.status_code == 422 and created.json()["reason"] == "invalid-schedule"


def titles(page: dict[str, Any]) -> list[str]:
    return [e["title"] for e in page["items"]]


def test_search_finds_titles_in_any_language_with_azerbaijani_letters(vod: Vod) -> None:
    def search(q: str, **kw: str) -> list[int]:
        return [e["id"] for e in vod.get("/api/v1/episodes", params={"q": q, **kw})["items"]]

    ids = vod.ids
    on_demand = {ids[k] for k in (*ON_DEMAND, "letter")}
    for q in ("vətən", "VƏTƏN", "Vətən", "veten"):
        assert set(search(q)) == on_demand, q
    everything = set(search("vətən", all="true"))
    assert everything == set(ids.values())
    assert set(search("vətən uzaqda")) == {ids[k] for k in ON_DEMAND}
    assert search("vətən berlin") == [ids["berlin"]]
    assert search("письмо") == [ids["letter"]]
    assert search("ПИСЬМО на") == [ids["letter"]]
    assert set(search("родина")) == {ids[k] for k in ON_DEMAND}
    assert search("берлинская") == [ids["berlin"]]
    assert search("istanbul") == search("İSTANBUL") == [ids["istanbul"]]
    assert search("тбилиси") == [] and search("тбилиси", all="true") == [ids["tiflis"]]
    assert search("100%_") == []
    page = vod.get("/api/v1/episodes", params={"q": "məktub", "lang": "ru"})
    assert titles(page) == ["Письмо на родину"] and page["next_cursor"] is None
    newest = vod.get("/api/v1/episodes")["items"]  # no q: everything on demand, newest first
    assert [e["id"] for e in newest] == sorted(on_demand, reverse=True)


def walk(vod: Vod, path: str, params: dict[str, Any]) -> list[list[int]]:
    pages = []
    body = vod.get(path, params=params)
    while True:
        pages.append([e["id"] for e in body["items"]])
        if body["next"] is None:
            assert body["next_cursor"] is None
            return pages
        assert "lang=en" in body["next"]
        body = vod.get(body["next"])


def test_pages_follow_each_other_without_gaps_or_repeats(vod: Vod) -> None:
    ids = vod.ids
    order = [
        ids[k]
        for k in ("berlin", "paris", "london", "qarabag", "radio", "tiflis", "istanbul", "yeni-il")
    ]
    path = "/api/v1/programmes/veten-uzaqda-deyil/episodes"
    for limit in (1, 3, 8, 100):
        pages = walk(vod, path, {"limit": limit, "lang": "en"})
        assert [i for p in pages for i in p] == order, limit
        assert all(len(p) == limit for p in pages[:-1])
    season = walk(vod, path, {"season": 2, "limit": 2, "lang": "en"})
    assert season == [[ids["radio"], ids["tiflis"]], [ids["istanbul"]]]
    found = walk(vod, "/api/v1/episodes", {"q": "vətən", "limit": 1, "lang": "en"})
    assert [p for p in found if len(p) != 1] == []
    assert sorted(i for p in found for i in p) == sorted(ids[k] for k in (*ON_DEMAND, "letter"))
    everything = walk(vod, "/api/v1/episodes", {"all": "true", "limit": 4, "lang": "en"})
    assert [i for p in everything for i in p] == sorted(ids.values(), reverse=True)


def test_unknown_things_and_bad_parameters_are_problems(vod: Vod) -> None:
    for path in (
        "/api/v1/programmes/yoxdur",
        "/api/v1/programmes/yoxdur/episodes",
        "/api/v1/episodes/999999",
    ):
        r = vod.public.get(path)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, path
        assert r.json()["reason"] == "not-found" and r.json()["status"] == 404
    path = "/api/v1/programmes/veten-uzaqda-deyil/episodes"
    for where, params in (
        (path, {"limit": 0}),
        (path, {"limit": 101}),
        (path, {"season": 0}),
        (path, {"cursor": "bu-kursor-deyil"}),
        ("/api/v1/episodes", {"limit": "many"}),
        ("/api/v1/episodes", {"lang": "fr"}),
        ("/api/v1/episodes", {"cursor": "Zm9v"}),
        ("/api/v1/episodes/abc", {}),
    ):
        r = vod.public.get(where, params=params)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (where, params)
        assert r.json()["detail"]
    bad = vod.public.get(path, params={"cursor": "bu-kursor-deyil"}).json()
    assert bad["reason"] == "invalid-cursor"
