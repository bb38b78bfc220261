"""Where packaged episodes can be played from, as a stranger, a listener and an editor see it.

Each test builds a small station with real, ffmpeg-made episodes packaged by the real job (a
one-rung ladder with 2 s segments), serves the API from a real uvicorn, and plays what it is
given: the master playlist and everything it names, the poster, the thumbnails, the M4A file.

- A stranger walking ids and the usual file names finds nothing, in or out of a window; a
  listener finds an episode through the URL the API gives while it is on demand, and that URL
  stops working once its window has closed (the package moves to a new, unguessable prefix).
- A re-package whose upload fails half-way leaves the package on air and on demand whole.
- A re-package that succeeds is served from a new prefix, and the old one goes.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text, update

from api.app import create_app
from diaspor import migrate
from diaspor.compose import Station, build_station
from media.binaries import Tools
from media.errors import StorageError
from media.ladder import PackagingOptions, parse_ladder
from media.library import IngestOptions
from media.models import MediaRow
from media.packaged import asset_prefix
from media.publications import Publication
from media.storage import LocalStorage
from playout.asrun_rows import AsRunRow
from schedules.vod import Airing, Availability
from schedules.vod_windows import exposures, must_move
from station.clock import SimulatedClock
from tests.conftest import settings_for
from tests.support import run, serve_app, video_clip

pytestmark = pytest.mark.runs(seconds=70)  # the file, as a whole: see conftest

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
OPTIONS = PackagingOptions(
    ladder=parse_ladder(["90p:160x90:120"]), segment_s=2, fps=25, thumb_interval_s=2
)
# What a stranger would try under hls/assets/<id>/: every name packaging writes.
GUESSES = (
    "",
    "master.m3u8",
    "package.json",
    "audio.m4a",
    "poster.jpg",
    "thumbs.jpg",
    "thumbs.vtt",
    "90p/index.m3u8",
    "90p/seg-00000.ts",
    "90p/seg-00001.ts",
    "audio/index.m3u8",
    "audio/seg-00000.ts",
    "subs/az/index.m3u8",
    "subs/az/seg-00000.vtt",
)
URI = re.compile(r'URI="([^"]+)"')


# --- the rule, as a pure function -----------------------------------------------------------

H, S = timedelta(hours=1), timedelta(seconds=1)


def window(start: datetime | None, until: datetime | None = None) -> Availability:
    return Availability(False, None, start, until)


@pytest.mark.parametrize(
    ("case", "moves"),
    [
        ({"windows": [window(NOW - 9 * H)]}, False),  # on demand, no end: stays
        ({"windows": [window(NOW - 9 * H, NOW - H)]}, True),  # closed since it was published
        ({"windows": [window(NOW - 9 * H, NOW - 5 * H)]}, False),  # closed before: never given
        ({"windows": [window(NOW + H)]}, False),  # not yet: never given out
        ({"windows": [window(NOW - 9 * H, NOW - H), window(NOW - H)]}, False),  # another open
        ({"airings": [Airing("tv", NOW - 2 * H, NOW - H)]}, True),  # aired, not on demand
        ({"airings": [Airing("tv", NOW - 600 * S, NOW + 600 * S)]}, False),  # on air now
        ({"seen_at": NOW - H}, True),  # given out when last looked, gone since (deleted)
        ({"seen_at": NOW - 5 * H}, False),  # given out before it was published
        ({"prefix": "hls/assets/7"}, True),  # made before publications: a guessable path
        ({"prefix": "hls/assets/7", "windows": [window(NOW - H)]}, True),
    ],
)
def test_a_package_moves_once_it_was_given_out_and_no_longer_may_be(
    case: dict[str, Any], moves: bool
) -> None:
    pub = Publication(
        7, case.get("prefix", f"hls/assets/7/{'c' * 32}"), NOW - 4 * H, case.get("seen_at")
    )
    exposed = exposures(case.get("windows", []), case.get("airings", []))
    assert must_move(pub, exposed, NOW) is moves


# --- stations with packaged episodes ----------------------------------------------------------


class FailingStorage(LocalStorage):
    """Local storage that, once armed, fails the Nth write into hls/assets/ from then on, as
    a full disk or a dropped link would."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.fail_at: int | None = None
        self.writes = 0

    def _count(self, key: str) -> None:
        if self.fail_at is None or not key.startswith("hls/assets/"):
            return
        self.writes += 1
        if self.writes == self.fail_at:
            raise StorageError(f"upload of {key} failed: no space left on device")

    def put_file(self, key: str, src: Path, *, move: bool = False) -> None:
        self._count(key)
        super().put_file(key, src, move=move)

    def put_bytes(
        self, key: str, data: bytes, mime: str | None = None, *, durable: bool = True
    ) -> None:
        self._count(key)
        super().put_bytes(key, data, mime, durable=durable)

    def copy(self, src: str, dest: str) -> None:
        self._count(dest)
        super().copy(src, dest)


@dataclass
class Vod:
    station: Station
    storage: FailingStorage
    clock: SimulatedClock
    base: str
    media: dict[str, int]
    episodes: dict[str, int]

    def episode(self, name: str) -> dict[str, Any]:
        r = httpx.get(f"{self.base}/api/v1/episodes/{self.episodes[name]}", timeout=10)
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def keys(self, media: str) -> set[str]:
        return set(self.storage.keys(f"hls/assets/{self.media[media]}/"))

    def look(self, name: str) -> tuple[dict[str, Any], dict[str, str], set[str]]:
        """What the API says of an episode, everything it plays, and its keys in storage."""
        e = self.episode(name)
        return e, playable(e), self.keys(name)

    def repackage(self, name: str) -> None:
        """An editor asks for the item to be packaged again, and the worker runs."""
        self.station.library.request_packaging(self.media[name])
        run(self.station.worker().drain())

    def retire_due(self) -> None:
        """Time passes beyond the grace a replaced package is kept for, and the worker runs."""
        self.clock.advance(self.station.settings.package_retire_s + 1)
        run(self.station.worker().drain())


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    files = {
        "berlin": video_clip(tools.ffmpeg, d / "berlin.mp4", "testsrc2", 440),
        "tiflis": video_clip(tools.ffmpeg, d / "tiflis.mp4", "testsrc", 550),
        "paris": video_clip(tools.ffmpeg, d / "paris.mp4", "smptebars", 660),
    }
    files["az"] = d / "berlin.az.vtt"
    files["az"].write_text("WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nXoş gəlmisiniz!\n", "utf-8")
    return files


@pytest.fixture
def make_vod(
    tmp_path: Path, db_url: str, tools: Tools, clips: dict[str, Path]
) -> Iterator[Callable[[dict[str, dict[str, Any]]], Vod]]:
    """A station with the clips named (name → episode fields) ingested, packaged and made
    episodes of one programme, its API served."""
    with contextlib.ExitStack() as stack:

        def make(wanted: dict[str, dict[str, Any]]) -> Vod:
            if db_url.startswith("sqlite"):
                migrate.upgrade(db_url)
            settings = settings_for(tmp_path, db_url)
            assert settings.storage_dir is not None
            storage = FailingStorage(settings.storage_dir)
            clock = SimulatedClock(NOW)
            st = build_station(settings, clock=clock, tools=tools, storage=storage)
            stack.callback(st.close)
            st.library.packaging = OPTIONS
            media = {}
            for name in wanted:
                subs = {"az": clips["az"]} if name == "berlin" else None
                res = run(st.library.ingest(clips[name], options=IngestOptions(subtitles=subs)))
                media[name] = res.item.id
            run(st.worker().drain())
            for name, mid in media.items():
                assert st.library.get(mid).package_status == "ready", name
            programme = st.schedules.create(
                "programme", {"slug": "veten-uzaqda-deyil", "titles": {"az": "Vətən"}}, "test"
            )
            episodes = {}
            for name, fields in wanted.items():
                body = {
                    "programme_id": programme.id,
                    "titles": {"az": name},
                    "media_id": media[name],
                }
                episodes[name] = st.schedules.create("episode", {**body, **fields}, "test").id
            base = stack.enter_context(serve_app(create_app(st)))
            st.settings.public_url = base  # so the URLs handed out reach this server
            return Vod(st, storage, clock, base, media, episodes)

        yield make


MakeVod = Callable[[dict[str, dict[str, Any]]], Vod]
BERLIN = {"berlin": {"air_date": date(2026, 11, 1)}}  # on demand since the 1st, for good


def playable(e: dict[str, Any]) -> dict[str, str]:
    """Everything a player or podcast app fetches for an episode, from the URLs the API gave:
    the master and every playlist and segment it names, the M4A file, the poster, the
    thumbnails and their sprite. Each must be served; returns url → digest."""
    todo = [e[k] for k in ("hls", "audio", "audio_file", "poster", "thumbnails") if e[k]]
    todo += [s["url"] for s in e["subtitles"]]
    got: dict[str, str] = {}
    while todo:
        url = todo.pop()
        if url in got:
            continue
        r = httpx.get(url, timeout=10)
        assert r.status_code == 200, url
        got[url] = hashlib.sha256(r.content).hexdigest()
        base = url.rsplit("/", 1)[0]
        if url.endswith(".m3u8"):
            lines = r.text.splitlines()
            names = [ln for ln in lines if ln and not ln.startswith("#")]
            names += [m for ln in lines for m in URI.findall(ln)]
            todo += [f"{base}/{n}" for n in names]
        elif url.endswith("thumbs.vtt"):
            todo += {f"{base}/{ln.split('#')[0]}" for ln in r.text.splitlines() if "#xywh" in ln}
    assert e["hls"] in got and len(got) > 8
    return got


def gone(urls: Any) -> None:
    for url in urls:
        r = httpx.get(url, timeout=10)
        assert r.status_code == 404, url


def walk_ids(vod: Vod) -> None:
    """A stranger tries every id up to a few past the last, and every usual file name."""
    last = max(vod.media.values()) + 3
    for media_id in range(1, last + 1):
        for name in GUESSES:
            path = f"hls/assets/{media_id}/{name}".rstrip("/")
            r = httpx.get(f"{vod.base}/files/{path}", timeout=10)
            assert r.status_code == 404, path


@pytest.mark.slow
def test_no_package_is_found_by_walking_ids_and_a_closed_window_ends_every_url(
    make_vod: MakeVod,
) -> None:
    vod = make_vod(
        {
            "berlin": {"air_date": date(2026, 11, 1)},  # on demand since the 1st, for good
            "tiflis": {  # on demand until an hour from now
                "available_from": datetime(2026, 11, 20, tzinfo=UTC),
                "available_until": NOW + timedelta(hours=1),
            },
            "paris": {"available_from": NOW + timedelta(days=2)},  # not yet
        }
    )
    walk_ids(vod)
    berlin, tiflis, paris = (vod.episode(n) for n in ("berlin", "tiflis", "paris"))
    assert (berlin["availability"]["on_demand"], tiflis["availability"]["on_demand"]) == (
        True,
        True,
    )
    assert paris["availability"]["reason"] == "not-yet" and paris["hls"] is None
    # Inside its window an episode plays, from the URL the API gives and from nowhere else.
    berlin_urls, tiflis_urls = playable(berlin), playable(tiflis)
    assert f"/files/hls/assets/{vod.media['tiflis']}/" in tiflis["hls"]
    assert tiflis["hls"].rsplit("/", 1)[1] == "master.m3u8"
    # Paris airs on TV before its window opens: its prefix was in the channel's playlists.
    with vod.station.db.session() as s:
        s.add(
            AsRunRow(
                channel="diaspor-tv",
                planned_start=NOW + timedelta(minutes=30),
                actual_start=NOW + timedelta(minutes=30),
                planned_ms=4000,
                kind="programme",
                media_id=vod.media["paris"],
                title="Paris",
                artist="",
                outcome="played",
            )
        )
    paris_before = vod.keys("paris")

    windows = vod.station.vod_windows()
    assert run(windows.close()) == []  # nothing has closed yet
    vod.clock.advance(2 * 3600)  # Tiflis's window has closed; Paris has aired
    assert run(windows.close()) == sorted([vod.media["tiflis"], vod.media["paris"]])
    e = vod.episode("tiflis")
    assert e["availability"]["reason"] == "expired" and e["hls"] is None
    vod.retire_due()
    gone(tiflis_urls)  # every URL a listener had: master, segments, M4A, poster, thumbnails
    assert playable(vod.episode("berlin")) == berlin_urls  # still on demand: untouched
    assert vod.keys("paris").isdisjoint(paris_before)
    assert run(windows.close()) == []  # moved once, not at every sweep
    walk_ids(vod)


@pytest.mark.slow
def test_a_repackaging_that_fails_half_way_leaves_the_episode_playable_and_whole(
    make_vod: MakeVod,
) -> None:
    vod = make_vod(BERLIN)
    before, played, keys = vod.look("berlin")
    vod.storage.fail_at = 3  # the third file of the new package cannot be written
    vod.repackage("berlin")
    assert vod.storage.writes >= 3
    item = vod.station.library.get(vod.media["berlin"])
    assert item.package_status == "failed"
    assert item.package_error and "no space left on device" in item.package_error
    after = vod.episode("berlin")
    assert after["availability"]["on_demand"] is True
    assert after["hls"] == before["hls"]
    assert playable(after) == played  # every file there, byte for byte
    assert vod.keys("berlin") == keys  # and nothing half-written beside it
    vod.retire_due()  # the retry succeeds: the episode moves to its new package whole
    moved = vod.episode("berlin")
    assert moved["hls"] != before["hls"]
    playable(moved)


@pytest.mark.slow
def test_a_repackaged_episode_is_served_from_a_new_prefix_and_the_old_one_goes(
    make_vod: MakeVod,
) -> None:
    vod = make_vod(BERLIN)
    before, old, old_keys = vod.look("berlin")
    vod.station.library.packaging = PackagingOptions(
        ladder=parse_ladder(["72p:128x72:100"]), segment_s=2, fps=25, thumb_interval_s=2
    )
    vod.repackage("berlin")
    after = vod.episode("berlin")
    assert after["hls"] != before["hls"]
    new = playable(after)
    assert any("/72p/" in u for u in new) and not any("/90p/" in u for u in new)
    # The old package stays a while for the TV channels' playlists that still name it ...
    assert httpx.get(before["hls"], timeout=10).status_code == 200
    vod.retire_due()
    gone(old)  # ... and then goes, whole
    assert vod.keys("berlin").isdisjoint(old_keys)
    assert playable(vod.episode("berlin")) == new


def migration(revision: str) -> Any:
    [path] = (migrate.SCRIPTS / "versions").glob(f"{revision}_*.py")
    spec = importlib.util.spec_from_file_location(f"migration_{revision}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_a_package_made_before_publications_leaves_its_guessable_folder(
    make_vod: MakeVod,
) -> None:
    vod = make_vod(BERLIN)
    mid = vod.media["berlin"]
    published = vod.station.library.package_of(mid)
    assert published is not None
    # As an earlier version left it: the package at hls/assets/<id>/ itself, and the database
    # brought up to this version (its migration points the row there).
    root = asset_prefix(mid)
    for key in list(vod.storage.keys(published.prefix + "/")):
        vod.storage.copy(key, root + key[len(published.prefix) :])
    with vod.station.db.session() as s:
        s.execute(update(MediaRow).values(package_prefix=None, package_published_at=None))
        s.execute(text(migration("0009").POINT_AT_LEGACY))
    assert vod.station.library.publications.prefix_of(mid) == root
    before = vod.episode("berlin")
    assert before["hls"] == f"{vod.base}/files/{root}/master.m3u8"
    legacy = playable(before)

    assert run(vod.station.vod_windows().close()) == [mid]  # at once, window open or not
    after = vod.episode("berlin")
    assert after["hls"].startswith(f"{vod.base}/files/{root}/") and after["hls"] != before["hls"]
    assert sorted(playable(after).values()) == sorted(legacy.values())  # the same files
    vod.retire_due()
    gone(legacy)
    walk_ids(vod)
    # Only the old package's own files went: the publications beside it were left alone.
    assert any(k.startswith(published.prefix + "/") for k in vod.storage.keys(root + "/"))


@pytest.mark.slow
def test_a_move_that_fails_leaves_the_package_as_it_was_and_is_tried_again(
    make_vod: MakeVod,
) -> None:
    closing = {
        "available_from": datetime(2026, 11, 20, tzinfo=UTC),
        "available_until": NOW + timedelta(hours=1),
    }
    vod = make_vod({"tiflis": closing})
    before, played, keys = vod.look("tiflis")
    windows = vod.station.vod_windows()
    vod.clock.advance(2 * 3600)
    vod.storage.fail_at = 4  # storage gives way half-way through the copy
    assert run(windows.close()) == []
    assert vod.keys("tiflis") == keys  # nothing half-copied beside it
    assert playable(before) == played  # and every URL still answers ...
    assert run(windows.close()) == [vod.media["tiflis"]]  # ... until the next sweep moves it
    vod.retire_due()
    gone(played)
