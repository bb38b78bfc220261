"""Apps' clients, generated from /openapi.json the way an app developer makes them
(docs/clients.md), walk what a listener's app does against a running station: the channels,
what is on each, a channel's guide in the listener's zone, a programme from that guide, its
episodes, one episode on demand, and what a player and a podcast app fetch from its links.

A Python client (openapi-python-client) walks it in-process, leg by leg, so that each leg
says for itself whether the contract holds; a TypeScript app (clients/journey.ts, against
the types openapi-typescript makes, with openapi-fetch) is type-checked with tsc, then run
with node. A field the API renames or drops fails the first at run time, the second at
compile time, as it would fail the apps.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from diaspor import migrate
from media.binaries import Tools
from media.ladder import PackagingOptions, parse_ladder
from media.library import IngestOptions
from tests.schedule_support import NOW, Desk, Ingested, build_radio_week, schedule_desk
from tests.support import need, run, video_clip

pytestmark = [pytest.mark.slow, pytest.mark.runs(seconds=40)]

CLIENTS = Path(__file__).resolve().parent.parent / "clients"
CONFIG = CLIENTS / "openapi-python-client.yaml"
PACKAGE = "diaspor_client"
ZONE = "America/Toronto"  # a listener's; the channels are in Asia/Baku
PROGRAMME = "veten-uzaqda-deyil"
OPTIONS = PackagingOptions(
    ladder=parse_ladder(["90p:160x90:120"]), segment_s=2, fps=25, thumb_interval_s=2
)
NO_NPM = "npm not found: install Node.js to check the TypeScript client"
AT = NOW + timedelta(days=1)  # the station's now: noon in Baku, a day after it was scheduled


@dataclass(frozen=True)
class OnAir:
    base: str
    episode_id: int  # on demand: packaged, aired on the 1st
    radio_episode_id: int  # of the same programme, not yet aired
    tv_media: int


def add_tv(desk: Desk, tools: Tools, folder: Path, programme_id: int) -> tuple[int, int]:
    """Diaspor TV, showing an episode of the programme daily at noon in Baku: a short
    video, ingested and packaged (one small rung) as any upload is."""
    st = desk.station
    st.library.packaging = OPTIONS
    clip = video_clip(tools.ffmpeg, folder / "berlin.mp4", "testsrc2", 440)
    options = IngestOptions(kind="programme", title="Berlin icması")
    media = run(st.library.ingest(clip, options=options)).item.id
    run(st.worker().drain())
    assert st.library.get(media).package_status == "ready"
    tv = desk.post(
        "channels",
        {"slug": "diaspor-tv", "kind": "tv", "names": {"az": "Diaspor TV", "en": "Diaspor TV"}},
    )
    episode = desk.post(
        "episodes",
        {
            "programme_id": programme_id,
            "season": 1,
            "number": 1,
            "titles": {"az": "Berlin icması", "en": "The Berlin community"},
            "media_id": media,
            "air_date": "2026-11-01",
        },
    )
    desk.post(
        "entries",
        {
            "channel_id": tv["id"],
            "target_type": "programme",
            "target_id": programme_id,
            "episode_id": episode["id"],
            "start_local": "2026-11-01T12:00:00",
            "rrule": "FREQ=DAILY",
        },
    )
    return int(episode["id"]), media


@pytest.fixture(scope="module")
def station(
    tmp_path_factory: pytest.TempPathFactory, tools: Tools, ingested: Ingested
) -> Iterator[OnAir]:
    """Diaspor.FM's music clock and monthly programme, Diaspor TV with an episode of that
    programme on demand, served by uvicorn, a day later; "Ayrılıq" played an hour ago."""
    folder = tmp_path_factory.mktemp("clients")
    url = f"sqlite:///{folder / 'station.db'}"
    migrate.upgrade(url)
    with schedule_desk(folder, url, tools, ingested) as desk:
        base = str(desk.client.base_url).rstrip("/")
        desk.station.settings.public_url = base  # so the URLs handed out reach this server
        week = build_radio_week(desk)
        episode, media = add_tv(desk, tools, folder, week["programme"]["id"])
        desk.clock.advance((AT - NOW).total_seconds())  # past what the new entries froze
        desk.played_before([1])
        yield OnAir(base, episode, week["episode"]["id"], media)


@pytest.fixture(scope="module")
def spec_file(station: OnAir, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The document as an app developer gets it: from the station, over HTTP."""
    r = httpx.get(f"{station.base}/openapi.json", timeout=30)
    assert r.status_code == 200, r.text
    path = tmp_path_factory.mktemp("spec") / "openapi.json"
    path.write_bytes(r.content)
    return path


def fetch(url: str) -> httpx.Response:
    """What a player does with a URL the API handed out."""
    r = httpx.get(url, timeout=30)
    assert r.status_code == 200, (url, r.text[:300])
    return r


# --- the Python client ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PythonClient:
    said: str  # what the generator printed
    client: Any  # the generated package's Client, open on the station


@pytest.fixture(scope="module")
def python(
    spec_file: Path, station: OnAir, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PythonClient]:
    """openapi-python-client's package for the document, imported from a temporary folder
    (it is generated code: not ours to lint or type-check)."""
    folder = tmp_path_factory.mktemp("python-client")
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(spec_file),
            "--config",
            str(CONFIG),
            "--meta",
            "none",
            "--output-path",
            str(folder / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    said = made.stdout + made.stderr
    assert made.returncode == 0, said
    sys.path.insert(0, str(folder))
    try:
        package = importlib.import_module(PACKAGE)
        with package.Client(base_url=station.base, raise_on_unexpected_status=True) as client:
            yield PythonClient(said, client)
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n.partition(".")[0] == PACKAGE]:
            del sys.modules[name]


def operation(name: str) -> Any:
    """A generated operation's module, by its tag and operationId in snake case
    (`channels.list_channels` is listChannels)."""
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def content_types(spec: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for methods in spec["paths"].values():
        for op in methods.values():
            found.update(op.get("requestBody", {}).get("content", {}))
            for answer in op["responses"].values():
                found.update(answer.get("content", {}))
    return found


def test_the_python_client_is_generated_without_warnings(
    python: PythonClient, spec_file: Path
) -> None:
    """A warning is a part of the document the generator could not turn into code: an
    operation, an answer or a schema an app would then not have."""
    assert "Generating" in python.said
    assert "warning" not in python.said.lower(), python.said
    assert "error" not in python.said.lower(), python.said
    # Every content type the config names for the generator is one the document uses.
    overrides = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["content_type_overrides"]
    spec = json.loads(spec_file.read_text(encoding="utf-8"))
    assert set(overrides) <= content_types(spec)


def test_the_channels_come_with_their_streams_and_links(
    python: PythonClient, station: OnAir
) -> None:
    page = operation("channels.list_channels").sync(client=python.client)
    assert (page.next_cursor, page.next_) == (None, None)
    channels = {c.slug: c for c in page.items}
    assert sorted(channels) == ["diaspor-fm", "diaspor-tv"]
    fm, tv = channels["diaspor-fm"], channels["diaspor-tv"]
    assert (fm.kind, tv.kind) == ("radio", "tv")
    assert (fm.name, fm.timezone, tv.timezone) == ("Diaspor.FM", "Asia/Baku", "Asia/Baku")
    [stream] = fm.streams
    assert (stream.url, stream.format_, stream.bitrate) == (
        "http://radio.example/diaspor.mp3",
        "mp3",
        128,
    )
    for channel in (fm, tv):
        links = channel.links
        assert fetch(links.self_).json()["slug"] == channel.slug
        assert fetch(links.now_playing).json()["channel"] == channel.slug
        assert fetch(links.schedule).json()["channel"] == channel.slug
        assert fetch(links.calendar).text.startswith("BEGIN:VCALENDAR")
        with httpx.stream("GET", links.now_playing_events, timeout=30) as events:
            assert events.headers["content-type"].startswith("text/event-stream")
            data = next(ln for ln in events.iter_lines() if ln.startswith("data:"))
        assert json.loads(data.removeprefix("data:"))["channel"] == channel.slug


def test_what_is_on_every_channel_comes_in_one_answer(python: PythonClient, station: OnAir) -> None:
    page = operation("now_playing.list_now_playing").sync(client=python.client)
    assert page.next_ is None
    playing = {np.channel: np for np in page.items}
    assert sorted(playing) == ["diaspor-fm", "diaspor-tv"]
    fm, tv = playing["diaspor-fm"], playing["diaspor-tv"]
    # The station ID, hard at the hour, from the timeline (no engine runs here).
    assert (fm.current.title, fm.current.kind, fm.current.started_at) == (
        "Diaspor.FM",
        "jingle",
        AT,
    )
    assert [h.title for h in fm.history] == ["Ayrılıq"]  # an hour ago, from the as-run log
    assert tv.current.media_id == station.tv_media
    assert tv.current.started_at == AT  # the episode, daily at noon in Baku


def test_a_channels_guide_comes_in_the_listeners_zone(python: PythonClient) -> None:
    answer = operation("guide.get_channel_schedule").sync_detailed(
        "diaspor-tv", client=python.client, tz=ZONE
    )
    guide = answer.parsed
    assert (guide.channel, guide.timezone, guide.tz) == ("diaspor-tv", "Asia/Baku", ZONE)
    toronto = timedelta(hours=-5)  # standard time, from November to March
    assert guide.blocks
    assert all(b.start.utcoffset() == b.end.utcoffset() == toronto for b in guide.blocks)
    [show] = [b for b in json.loads(answer.content)["blocks"] if b["programme"] == PROGRAMME]
    assert show["start"] == "2026-11-27T03:00:00-05:00"  # noon in Baku


def test_a_programme_from_the_guide_leads_to_an_episode_a_player_plays(
    python: PythonClient, station: OnAir
) -> None:
    c = python.client
    guide = operation("guide.get_channel_schedule").sync("diaspor-tv", client=c)
    slug = next(b.programme for b in guide.blocks if b.programme)
    programme = operation("on_demand.get_programme").sync(slug, client=c)
    assert (programme.slug, programme.title) == (PROGRAMME, "Vətən uzaqda deyil")
    assert (programme.episodes, programme.episodes_on_demand) == (2, 1)
    page = operation("on_demand.list_programme_episodes").sync(slug, client=c)
    assert {e.id for e in page.items} == {station.episode_id, station.radio_episode_id}
    [on_demand] = [e for e in page.items if e.availability.on_demand]
    assert on_demand.id == station.episode_id
    episode = operation("on_demand.get_episode").sync(on_demand.id, client=c)
    assert (episode.title, episode.programme) == ("Berlin icması", PROGRAMME)
    links = episode.links
    assert (links.master, links.audio_file, links.poster) == (
        episode.hls,
        episode.audio_file,
        episode.poster,
    )
    assert fetch(links.self_).json()["id"] == episode.id
    assert links.share.startswith(station.base)
    master = fetch(links.master).text
    assert master.startswith("#EXTM3U") and "#EXT-X-STREAM-INF" in master
    variant = next(ln for ln in master.splitlines() if ln and not ln.startswith("#"))
    assert "#EXT-X-ENDLIST" in fetch(f"{links.master.rsplit('/', 1)[0]}/{variant}").text
    sound = fetch(links.audio_file)
    assert sound.headers["content-type"] == "audio/mp4" and sound.content[4:8] == b"ftyp"
    assert fetch(links.poster).content[:3] == b"\xff\xd8\xff"  # a JPEG
    listed = fetch(programme.links.episodes).json()["items"]
    assert [e["id"] for e in listed] == [e.id for e in page.items]
    assert fetch(programme.links.self_).json()["slug"] == PROGRAMME
    assert fetch(programme.links.calendar).text.startswith("BEGIN:VCALENDAR")
    assert programme.links.page.startswith(station.base)


def test_a_podcast_app_gets_the_episodes_sound_from_the_feed(
    python: PythonClient, station: OnAir
) -> None:
    c = python.client
    programme = operation("on_demand.get_programme").sync(PROGRAMME, client=c)
    answer = operation("on_demand.get_podcast_feed").sync_detailed(PROGRAMME, client=c)
    assert answer.headers["content-type"].startswith("application/rss+xml")
    assert isinstance(answer.parsed, str) and "<rss" in answer.parsed  # text, not left out
    assert fetch(programme.links.podcast).content == answer.content
    episode = operation("on_demand.get_episode").sync(station.episode_id, client=c)
    [item] = ET.fromstring(answer.content).iter("item")  # the radio episode has not aired
    enclosure = item.find("enclosure")
    assert enclosure is not None and enclosure.get("url") == episode.links.audio_file
    sound = fetch(episode.links.audio_file).content
    assert int(enclosure.get("length", "0")) == len(sound)


# --- the TypeScript app --------------------------------------------------------------------------


@dataclass(frozen=True)
class Toolchain:
    node: str
    bin: Path  # openapi-typescript and tsc, at clients/package-lock.json's versions


@pytest.fixture(scope="module")
def toolchain() -> Toolchain:
    """Node.js and the tools `npm ci --prefix clients` installs (make test does, where npm is):
    without them the TypeScript tests skip and say why (in CI, they fail)."""
    node = shutil.which("node")
    need(shutil.which("npm") is not None and node is not None, NO_NPM)
    assert node is not None
    tools = CLIENTS / "node_modules" / ".bin"
    need(
        (tools / "tsc").exists(), "the TypeScript tools are not installed: npm ci --prefix clients"
    )
    return Toolchain(node, tools)


def in_clients(*args: str) -> str:
    """Runs a program in clients/; its output, once it has ended well."""
    done = subprocess.run(
        list(args), cwd=CLIENTS, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def typescript(toolchain: Toolchain, spec_file: Path) -> Path:
    """The document's types, as openapi-typescript writes them for clients/journey.ts."""
    out = CLIENTS / "generated" / "schema.d.ts"
    out.unlink(missing_ok=True)
    in_clients(str(toolchain.bin / "openapi-typescript"), str(spec_file), "--output", str(out))
    assert "export interface paths" in out.read_text(encoding="utf-8")
    return out


def test_the_typescript_app_type_checks_against_the_document(
    toolchain: Toolchain, typescript: Path
) -> None:
    in_clients(str(toolchain.bin / "tsc"), "--noEmit", "-p", ".")


def test_the_typescript_app_walks_the_journey(
    toolchain: Toolchain, typescript: Path, station: OnAir
) -> None:
    shutil.rmtree(CLIENTS / "generated" / "js", ignore_errors=True)
    # Compiled whatever the type check says (that is the test above): what runs, runs.
    in_clients(str(toolchain.bin / "tsc"), "-p", ".", "--noCheck")
    walked = json.loads(in_clients(toolchain.node, "walk.mjs", station.base))
    assert sorted(c["slug"] for c in walked["channels"]) == ["diaspor-fm", "diaspor-tv"]
    assert sorted(np["channel"] for np in walked["nowPlaying"]) == ["diaspor-fm", "diaspor-tv"]
    guide = walked["guide"]
    assert (guide["channel"], guide["timezone"], guide["tz"]) == ("diaspor-tv", "Asia/Baku", ZONE)
    assert guide["starts"] and all(t.endswith("-05:00") for t in guide["starts"] + guide["ends"])
    assert walked["programme"]["slug"] == PROGRAMME
    assert walked["episode"]["id"] == station.episode_id
    assert walked["master"].startswith("#EXTM3U")
    assert walked["audio"]["type"] == "audio/mp4" and walked["audio"]["bytes"] > 0
    assert walked["podcastEnclosures"] == [walked["episode"]["audioFile"]]
