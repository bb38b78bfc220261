"""A studio goes live on Diaspor TV: its RTMP/SRT stream is transcoded in real time into the
channel's ladder, the sequencer splices those segments into the channel's playlists between
discontinuities, and the schedule comes back, to the frame, when the studio stops.

The rules of the splice are walked on a stepped clock with a feed whose segments appear when
the story says (as test_sequencer does with stand-in packages); the real thing — ffmpeg
listening, a sender pushing, the segments decoded, the channel's playlist played across the
switch — runs on the real clock at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import posixpath
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from media.binaries import Tools
from media.encodes import asset_args
from media.ladder import AUDIO, PackagingOptions, parse_ladder
from media.packaged import Published, asset_prefix
from media.packaging import package_asset, package_slate
from media.segments import check_ladder, probe_segment
from media.storage import LocalStorage
from media.thumbnails import thumb_grid
from playout.asrun import Outcome
from playout.sequencer import Sequencer, TvBoundary, stored_packages
from playout.tv_line import LiveSpan
from schedules.plan import TimelineItem
from station.clock import SystemClock
from streamer.tvlive import (
    LiveInput,
    LiveInputError,
    LiveSegment,
    TvLiveIngest,
    complete_segments,
    has_protocol,
    input_protocols,
    live_args,
    live_input_prefix,
    playlist_entries,
)
from tests.support import H264_AAC, free_port, make_media, need, run
from tests.test_sequencer import (
    AZ,
    CH,
    LADDER,
    LIVE,
    QARABAG,
    SUBS,
    T0,
    PList,
    PSeg,
    Snapshot,
    Timeline,
    asset,
    check_reload,
    names,
    parse_media,
    put_package,
    read,
    slate_package,
    walk,
)
from tests.test_sequencer import aired as aired_in

pytestmark = pytest.mark.runs(seconds=90)  # the file, as a whole: see conftest

FEED = live_input_prefix(CH)
KEY = "diaspor-studio-7f3a"
PASSPHRASE = "Vətən uzaqda deyil 2026"  # SRT: 10 to 79 characters


# --- the ingest's pure parts -----------------------------------------------------------------


def test_live_args_listen_for_one_sender_and_cut_like_packaging() -> None:
    opts = PackagingOptions()
    src = LiveInput("rtmp", "0.0.0.0", 1935, KEY)
    args = live_args("ffmpeg", src, Path("/w"), opts, gain_db=-3.0, start_number=42)
    i = args.index("-i")
    assert args[i - 6 : i + 1] == ["-rw_timeout", "10000000", "-listen", "1", "-f", "flv", "-i"]
    assert args[i - 8 : i - 6] == ["-analyzeduration", "1000000"]
    assert args[i + 1] == f"rtmp://0.0.0.0:1935/live/{KEY}"
    # the ladder exactly as packaging encodes it: the same x264, rates and AAC options
    grid = thumb_grid(250, opts)
    packaged = asset_args(
        "ffmpeg",
        Path("/a.mp4"),
        Path("/o"),
        opts,
        frames=250,
        gain=0.0,
        has_audio=True,
        poster_frame=0,
        grid=grid,
    )
    start = packaged.index("-c:v")
    end = packaged.index("-force_key_frames") + 2
    assert " ".join(packaged[start:end]) in " ".join(args)
    assert args[args.index("-var_stream_map") + 1] == (
        "v:0,a:0,name:720p v:1,a:1,name:480p v:2,a:2,name:360p a:3,name:audio"
    )
    assert args[args.index("-hls_time") + 1] == "6"
    assert args[args.index("-start_number") + 1] == "42"
    assert "temp_file" in args[args.index("-hls_flags") + 1]
    graph = args[args.index("-filter_complex") + 1]
    assert "fps=25" in graph and "volume=-3.00dB" in graph and "channel_layouts=stereo" in graph
    assert args[-1] == "/w/%v/index.m3u8"


def test_srt_listens_with_its_passphrase_and_the_secret_stays_out_of_logs() -> None:
    src = LiveInput("srt", "0.0.0.0", 9000, PASSPHRASE)
    url = src.listen_url(io_timeout_s=10)
    assert url == "srt://0.0.0.0:9000?mode=listener&latency=500000&timeout=10000000"
    args = live_args("ffmpeg", src, Path("/w"), PackagingOptions(), gain_db=0, start_number=0)
    i = args.index("-i")
    assert args[i - 4 : i + 2] == ["-f", "mpegts", "-passphrase", PASSPHRASE, "-i", url]
    assert src.sender_url("tv.diaspor.fm") == f"srt://tv.diaspor.fm:9000?passphrase={PASSPHRASE}"
    assert src.redact(f"error with {PASSPHRASE}") == "error with ***"
    rtmp = LiveInput("rtmp", "127.0.0.1", 1935, KEY)
    assert KEY not in rtmp.redact(f"Unexpected stream wrong, expecting {KEY}")
    with pytest.raises(LiveInputError, match="10 to 79"):
        LiveInput("srt", "0.0.0.0", 9000, "short")
    with pytest.raises(LiveInputError, match="cannot hold"):
        LiveInput("srt", "0.0.0.0", 9000, "one+two&three")
    with pytest.raises(LiveInputError, match="stream key"):
        LiveInput("rtmp", "0.0.0.0", 1935, "a/b/c/d/e/f")


def test_a_segment_is_complete_when_every_rendition_lists_it() -> None:
    def playlist(*entries: tuple[int, str]) -> str:
        body = "".join(f"#EXTINF:{d},\nseg-{i:05d}.ts\n" for i, d in entries)
        return f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n{body}"

    lists = {
        "720p": playlist((7, "6.000000"), (8, "6.000000"), (9, "2.360000")),
        "360p": playlist((7, "6.000000"), (8, "6.000000"), (9, "2.360000")),
        "audio": playlist((7, "6.005333"), (8, "6.005333")),  # its segment 9 is not done yet
    }
    assert playlist_entries(lists["audio"]) == {7: Decimal("6.005333"), 8: Decimal("6.005333")}
    assert complete_segments(lists, ["720p", "360p", "audio"], 25, after=-1) == [
        (7, 150),
        (8, 150),
    ]
    assert complete_segments(lists, ["720p", "360p", "audio"], 25, after=7) == [(8, 150)]
    lists["audio"] += "#EXTINF:2.361000,\nseg-00009.ts\n"
    assert complete_segments(lists, ["720p", "360p", "audio"], 25, after=8) == [(9, 59)]
    assert complete_segments({"720p": "", "audio": ""}, ["720p", "audio"], 25, after=-1) == []


def test_ffmpeg_protocol_list_is_read() -> None:
    banner = "Supported file protocols:\nInput:\n  file\n  rtmp\n  srt\nOutput:\n  icecast\n"
    assert input_protocols(banner) == {"file", "rtmp", "srt"}


# --- the splice, on a stepped clock ----------------------------------------------------------


class Feed:
    """What a live ingest announces, played back by the story's clock (`now`)."""

    prefix = FEED
    renditions = tuple(r.name for r in LADDER)
    fps = 25

    def __init__(self, plan: Sequence[LiveSegment]) -> None:
        self.plan = list(plan)
        self.now = 0

    def segments(self) -> tuple[LiveSegment, ...]:
        return tuple(s for s in self.plan if s.ready_ms <= self.now)


def studio(
    start_s: float,
    frames: Sequence[int],
    *,
    first: int = 0,
    latency_ms: int = 300,
    ready_s: Sequence[float] | None = None,
) -> list[LiveSegment]:
    """A studio on air from start_s (after T0): each segment is ready when its last frame
    has been captured, plus the encoder's latency."""
    out, at = [], T0 + int(start_s * 1000)
    for k, f in enumerate(frames):
        at += f * 40
        ready = T0 + int(ready_s[k] * 1000) if ready_s else at + latency_ms
        out.append(LiveSegment(first + k, f, f * 40, first, ready))
    return out


def stored_feed(storage: LocalStorage, plan: Sequence[LiveSegment]) -> Feed:
    for s in plan:
        for r in LADDER:
            storage.put_bytes(f"{FEED}/{r.segment(s.index)}", b"\x47" * 188)
    return Feed(plan)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    st_ = LocalStorage(tmp_path / "store")
    put_package(st_, "hls/slate/" + CH, slate_package())
    put_package(st_, asset_prefix(12), asset(12, [6000, 6000, 6000, 2000], SUBS[:1]))
    put_package(st_, asset_prefix(13), asset(13, [6000, 6000, 3520]))
    return st_


# A studio on air from 20 s to 57.6 s: six full segments and a last one of 1.6 s.
ON_AIR = studio(20, [150] * 6 + [40])


async def walk_live(
    seq: Sequencer, storage: LocalStorage, feed: Feed, t_from: int, t_to: int, every_ms: int = 200
) -> list[tuple[int, Snapshot]]:
    """Step the clock (the feed's too); each change of the playlists is checked against the
    one before, and the line never comes within one target duration of the clock."""

    def tick(t: int) -> None:
        feed.now = t

    def never_dry(t: int) -> None:
        assert seq.segments[-1].end >= t + 6000, "the line ran dry"

    return await walk(seq, storage, t_from, t_to, every_ms, before=tick, after=never_dry)


def live_sequencer(storage: LocalStorage, feed: Feed, **kw: object) -> Sequencer:
    kw.setdefault("subtitles", SUBS)
    kw.setdefault("packages", stored_packages(storage, asset_prefix))
    timeline = kw.pop("timeline", Timeline())
    return Sequencer(CH, storage, timeline, live=feed, **kw)  # type: ignore[arg-type]


def is_live(s: PSeg) -> bool:
    return "/live/" in s.uri


def assert_continuous(segs: Sequence[PSeg], exact_within: bool = True) -> None:
    """Each date-time follows the one before by its EXTINF (to half a frame where the line
    meets the schedule again: an item's start is the schedule's millisecond)."""
    for a, b in itertools.pairwise(segs):
        gap = b.pdt_ms - a.pdt_ms - int(a.duration * 1000)
        assert abs(gap) <= 20, (a, b)
        if exact_within and not b.discontinuity:
            assert gap == 0, (a, b)


def test_the_studio_takes_over_and_the_schedule_comes_back_to_the_frame(
    storage: LocalStorage,
) -> None:
    feed = stored_feed(storage, ON_AIR)
    told: list[TvBoundary] = []
    seq = live_sequencer(storage, feed, hooks=[told.append])
    snaps = run(walk_live(seq, storage, feed, T0 + 1000, T0 + 100_000))
    segs = aired_in(snaps)
    live = [s for s in segs if is_live(s)]
    # every segment the studio made, in order, laid end to end from where the line stood
    # (asset 13's first two segments were out; its third was not)
    assert [s.uri for s in live] == [f"../../live/{CH}/720p/seg-{i:05d}.ts" for i in range(7)]
    assert [s.pdt_ms - T0 for s in live] == [42_000 + 6000 * k for k in range(7)]
    assert [s.discontinuity for s in live] == [True] + [False] * 6
    before, after = segs[segs.index(live[0]) - 1], segs[segs.index(live[-1]) + 1]
    assert before.uri == "../../assets/13/720p/seg-00001.ts"
    # back at 79.6 s, in asset 12 (60-90 s): 10 frames of slate up to its next planned
    # segment (its slate tail from 80 s), so the following item is on its frame again
    assert after.discontinuity and after.pdt_ms == T0 + 79_600 and "/slate/" in after.uri
    tail = [s for s in segs if T0 + 79_600 <= s.pdt_ms < T0 + 90_000]
    assert [round(s.duration * 25) for s in tail] == [8, 2, 150, 64, 32, 4]
    nxt = next(s for s in segs if s.pdt_ms == T0 + 90_000)
    assert nxt.uri == "../../assets/12/720p/seg-00000.ts"
    assert_continuous(segs)
    # every rendition lists the same; subtitles stand empty during live
    last = snaps[-1][1]
    shapes = {n: [(s.seq, s.pdt_ms, s.duration) for s in pl.segments] for n, pl in last.items()}
    assert len({str(v) for v in shapes.values()}) == 1
    az = {s.seq: s.uri for s in aired_in(snaps, "subs-az.m3u8")}
    assert all(az[s.seq] == "empty.vtt" for s in live)
    for n in names(seq):
        for s in aired_in(snaps, n):
            assert storage.exists(posixpath.normpath(f"{LIVE}/{s.uri}")), s.uri
    # as-run: the live item, the items it overrode, and where the schedule came back
    got = [(b.item.start_ms - T0, b.item.kind, b.item.media_id, b.outcome, b.resumed) for b in told]
    assert got[:8] == [
        (0, "programme", 12, Outcome.PLAYED, False),
        (23_000, "slate", None, Outcome.PLAYED, False),
        (30_000, "programme", 13, Outcome.PLAYED, False),
        (42_000, "live", None, Outcome.PLAYED, False),
        (45_530, "programme", 99, Outcome.OVERRIDDEN, False),
        (60_000, "programme", 12, Outcome.OVERRIDDEN, False),
        (60_000, "programme", 12, Outcome.PLAYED, True),
        (90_000, "programme", 12, Outcome.PLAYED, False),
    ]
    thirteen, on_air, missing, twelve, back = told[2:7]
    assert thirteen.last_seq == thirteen.first_seq + 1  # cut where live began
    assert on_air.first_seq == live[0].seq and on_air.actual_ms == T0 + 42_000
    assert on_air.now_playing.live and on_air.now_playing.current is not None
    assert on_air.now_playing.current.title == "Canlı yayım"
    assert (missing.first_seq, missing.last_seq) == (live[0].seq, live[0].seq - 1)  # none
    assert missing.actual_ms == T0 + 45_530 and missing.now_playing.live
    assert twelve.first_seq == live[3].seq  # the live segment on air at its start
    assert back.after_live == LiveSpan(live[0].seq, live[-1].seq, T0 + 42_000, T0 + 79_600)
    assert back.actual_ms == T0 + 79_600 and back.first_seq == live[-1].seq + 1
    assert not back.now_playing.live and told[7].after_live is None


def test_a_restart_during_live_goes_on_with_the_next_segment(
    storage: LocalStorage, tmp_path: Path
) -> None:
    other = LocalStorage(tmp_path / "other")
    shutil.copytree(storage.root, other.root, dirs_exist_ok=True)
    first = live_sequencer(storage, stored_feed(storage, ON_AIR))
    before = run(walk_live(first, storage, first.live, T0 + 1000, T0 + 50_000))  # type: ignore[arg-type]
    assert first.on_live
    told: list[TvBoundary] = []
    second = live_sequencer(storage, stored_feed(storage, ON_AIR), hooks=[told.append])
    after = run(walk_live(second, storage, second.live, T0 + 50_200, T0 + 100_000))  # type: ignore[arg-type]
    for n in names(second):
        check_reload(before[-1][1][n], after[0][1][n])
    steady = live_sequencer(other, stored_feed(other, ON_AIR))
    whole = run(walk_live(steady, other, steady.live, T0 + 1000, T0 + 100_000))  # type: ignore[arg-type]
    for n in names(second):  # the restart is invisible: the very same playlists
        assert read(storage, n) == read(other, n)
    assert aired_in(before + after) == aired_in(whole)
    assert [b.item.start_ms - T0 for b in told][:2] == [60_000, 60_000]
    assert told[1].after_live is not None and told[1].after_live.start_ms == T0 + 42_000


def test_without_takeover_live_airs_only_in_its_slot(storage: LocalStorage) -> None:
    pattern = (
        (0, 23_000, 12, "programme", AZ),
        (23_000, 30_000, None, "slate", ""),
        (30_000, 45_530, None, "live", "Studiya: Qarabağ"),
        (45_530, 60_000, 13, "programme", QARABAG),
        (60_000, 90_000, 12, "programme", AZ),
    )
    feed = stored_feed(storage, ON_AIR)
    told: list[TvBoundary] = []
    seq = live_sequencer(
        storage, feed, timeline=Timeline(pattern), live_takeover=False, hooks=[told.append]
    )
    snaps = run(walk_live(seq, storage, feed, T0 + 1000, T0 + 100_000))
    segs = aired_in(snaps)
    live = [s for s in segs if is_live(s)]
    # the slot is slate until the studio's picture arrives; it goes on until the slot ends
    # (the segment that crosses its end included), then asset 13 is joined where it stands
    assert [s.pdt_ms - T0 for s in live] == [42_000]
    after = segs[segs.index(live[0]) + 1]
    assert after.discontinuity and after.pdt_ms == T0 + 48_000
    joined = next(s for s in segs if "/assets/13/" in s.uri)
    # its second segment, due at 51.53 s: 88 frames of slate from 48 s reach the frame
    # nearest to it (a quarter frame early)
    assert joined.uri.endswith("seg-00001.ts") and joined.pdt_ms == T0 + 51_520
    assert_continuous(segs)
    kinds = [(b.item.start_ms - T0, b.item.kind, b.outcome, b.resumed) for b in told][:5]
    assert kinds == [
        (0, "programme", Outcome.PLAYED, False),
        (23_000, "slate", Outcome.PLAYED, False),
        (30_000, "live", Outcome.PLAYED, False),
        (30_000, "live", Outcome.PLAYED, False),
        (45_530, "programme", Outcome.OVERRIDDEN, False),
    ]
    assert told[3].item.title == "Studiya: Qarabağ" and told[3].actual_ms == T0 + 42_000
    assert told[5].resumed and told[5].after_live == LiveSpan(
        live[0].seq, live[0].seq, T0 + 42_000, T0 + 48_000
    )


def test_a_late_feed_is_held_with_slate_and_rejoined(storage: LocalStorage) -> None:
    # two segments, a 28 s pause (the studio's encoder stalled), two more, then nothing;
    # a grace long enough to wait for it
    plan = studio(20, [150] * 4, ready_s=[26.3, 32.3, 60.3, 66.3])
    feed = stored_feed(storage, plan)
    told: list[TvBoundary] = []
    seq = live_sequencer(storage, feed, live_grace_ms=30_000, hooks=[told.append])
    snaps = run(walk_live(seq, storage, feed, T0 + 1000, T0 + 120_000))  # never runs dry
    segs = aired_in(snaps)
    on = [s for s in segs if T0 + 42_000 <= s.pdt_ms < T0 + 108_000]
    kinds = ["live" if is_live(s) else "slate" if "/slate/" in s.uri else "?" for s in on]
    # the line held at a target duration ahead of the clock: a full slate segment each time
    # it came that close, until the studio was back; after it, until the grace ran out
    assert kinds == ["live"] * 2 + ["slate"] * 3 + ["live"] * 2 + ["slate"] * 4
    assert [s.pdt_ms - T0 for s in on] == list(range(42_000, 108_000, 6000))
    assert all(s.discontinuity for s in on[2:6]) and not on[6].discontinuity
    back = next(b for b in told if b.after_live is not None)
    assert back.after_live is not None and back.after_live.end_ms == T0 + 108_000
    assert back.item.start_ms == T0 + 90_000 and back.resumed  # joined on its 4th segment
    resumed = next(s for s in segs if s.pdt_ms == T0 + 108_000)
    assert resumed.uri == "../../assets/12/720p/seg-00003.ts" and resumed.discontinuity
    assert_continuous(segs)


def test_a_feed_in_another_ladder_never_airs(
    storage: LocalStorage, caplog: pytest.LogCaptureFixture
) -> None:
    feed = stored_feed(storage, ON_AIR)
    feed.renditions = ("1080p", "audio")
    seq = live_sequencer(storage, feed)
    with caplog.at_level(logging.ERROR, logger="playout.sequencer"):
        snaps = run(walk_live(seq, storage, feed, T0 + 1000, T0 + 60_000, every_ms=500))
    assert not any(is_live(s) for s in aired_in(snaps))
    refusals = [r for r in caplog.records if r.getMessage() == "the live feed cannot air"]
    assert len(refusals) == 1  # said once, not at every step


# --- the real thing: ffmpeg listening, a studio pushing, the channel switching ---------------

LIVE_OPTS = PackagingOptions(
    ladder=parse_ladder(["180p:320x180:300", "90p:160x90:120"]),
    segment_s=2,
    fps=25,
    audio_kbps=64,
    preset="ultrafast",
)
NAMES = [r.name for r in LIVE_OPTS.ladder]


async def push(ffmpeg: str, url: str, seconds: float, fmt: str = "flv") -> tuple[int, str]:
    """A studio: a test picture and a tone, in real time, for `seconds`. While the listener
    is between two senders (ffmpeg restarting), the connection is refused: try again."""
    deadline = time.monotonic() + 5
    while True:
        proc = await asyncio.create_subprocess_exec(
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-f",
            fmt,
            url,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        text = err.decode("utf-8", "replace")
        assert proc.returncode is not None
        if proc.returncode and "refused" in text.lower() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            continue
        return proc.returncode, text


async def until(check: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def decode_playlist(tools: Tools, playlist: Path, out: Path) -> list[int]:
    """Play a finished copy of a channel playlist as a player would (re-basing at every
    timestamp jump); the video's packet timestamps, one per frame."""
    done = playlist.with_name(playlist.stem + "-done.m3u8")
    done.write_text(playlist.read_text() + "#EXT-X-ENDLIST\n")
    base = [
        tools.ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-dts_delta_threshold",
        "0",
        "-i",
        str(done),
    ]
    decode = subprocess.run([*base, "-f", "null", "-"], capture_output=True, text=True)
    assert decode.returncode == 0 and decode.stderr == "", decode.stderr
    copy = subprocess.run(
        [*base, "-map", "0:v", "-c", "copy", str(out)], capture_output=True, text=True
    )
    assert copy.returncode == 0 and copy.stderr == "", copy.stderr
    assert tools.ffprobe is not None
    probe = subprocess.run(
        [
            tools.ffprobe,
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "packet=pts",
            "-of",
            "default=nw=1:nk=1",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return [int(x) for x in probe.stdout.split()]


async def check_segments(tools: Tools, storage: LocalStorage, segs: Sequence[LiveSegment]) -> None:
    """Every rendition has every segment; per session they line up frame for frame across
    the rungs, start on keyframes, run on without a gap, and the audio-only one matches
    (but in the last segment, cut wherever the sender stopped its sound and picture)."""
    for _, group in itertools.groupby(segs, key=lambda s: s.session):
        run_ = list(group)
        probes = {
            n: [
                await probe_segment(tools, storage.path(f"{FEED}/{n}/seg-{s.index:05d}.ts"))
                for s in run_
            ]
            for n in [*NAMES, AUDIO]
        }
        audio = probes.pop(AUDIO)
        frames = check_ladder(probes, rungs=NAMES, fps=25, gop=LIVE_OPTS.gop)
        assert frames == [s.frames for s in run_]
        assert all(f == LIVE_OPTS.gop for f in frames[:-1])  # full segments but the last
        if len(run_) > 1:
            head = {n: p[:-1] for n, p in probes.items()} | {AUDIO: audio[:-1]}
            check_ladder(head, rungs=NAMES, fps=25, gop=LIVE_OPTS.gop)
        assert audio[-1].audio_ticks > 0


@dataclass
class Channel:
    storage: LocalStorage
    ingest: TvLiveIngest
    seq: Sequencer
    told: list[TvBoundary]


def channel(tools: Tools, tmp_path: Path, source: LiveInput, grace_ms: int = 4000) -> Channel:
    """Diaspor TV with a small ladder: its slate and a 10 s episode, packaged for real,
    the episode every 10 s; the live input beside it."""
    storage = LocalStorage(tmp_path / "store")
    run(package_slate(tools, storage, CH, options=LIVE_OPTS, staging_dir=tmp_path / "stage"))
    src = make_media(
        tools.ffmpeg,
        tmp_path / "epizod.mp4",
        "-f",
        "lavfi",
        "-i",
        "color=c=green:size=320x180:rate=25:duration=10",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=300:sample_rate=48000:duration=10",
        *H264_AAC,
        "-shortest",
        "-metadata",
        f"title={AZ}",
    )
    pub: Published = run(
        package_asset(
            tools,
            storage,
            src,
            media_id=1,
            duration_ms=10_000,
            loudness_lufs=None,
            true_peak_dbtp=None,
            has_audio=True,
            options=LIVE_OPTS,
            staging_dir=tmp_path / "stage",
        )
    )
    assert pub.package.segments_ms == (2000,) * 5

    def timeline(a: int, b: int) -> list[TimelineItem]:
        k = a // 10_000
        out = []
        while k * 10_000 < b:
            out.append(
                TimelineItem(
                    k * 10_000, (k + 1) * 10_000, "programme", 1, 0, 10_000, hard=True, title=AZ
                )
            )
            k += 1
        return out

    clock = SystemClock()
    ingest = TvLiveIngest(CH, tools.ffmpeg, storage, source, LIVE_OPTS, tmp_path / "live", clock)
    told: list[TvBoundary] = []
    seq = Sequencer(
        CH,
        storage,
        timeline,
        packages=stored_packages(storage, {1: pub.prefix}.get),
        window=200,
        live=ingest,
        live_grace_ms=grace_ms,
        hooks=[told.append],
    )
    return Channel(storage, ingest, seq, told)


@contextlib.asynccontextmanager
async def on_air(ch: Channel, playlists: list[PList]) -> AsyncIterator[None]:
    """The ingest and the sequencer running on the real clock; every change of the 180p
    playlist is read back and checked against the one before."""
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(ch.ingest.run(stop)),
        asyncio.create_task(ch.seq.run(SystemClock(), stop, max_sleep_ms=200)),
    ]

    async def watch() -> None:
        last = ""
        while not stop.is_set():
            path = ch.storage.path(f"{LIVE}/180p.m3u8")
            text = path.read_text() if path.exists() else ""
            if text and text != last:
                pl = parse_media(text)
                if playlists:
                    check_reload(playlists[-1], pl)
                playlists.append(pl)
                last = text
            await asyncio.sleep(0.05)

    tasks.append(asyncio.create_task(watch()))
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        assert not ch.ingest.listening  # its ffmpeg was stopped and reaped


@pytest.mark.slow
def test_a_studio_goes_live_over_rtmp_and_the_channel_plays_across(
    tools: Tools, tmp_path: Path
) -> None:
    need(tools.ffprobe is not None, "ffprobe is not installed")
    port = free_port()
    # a grace of three target durations: the studio's reconnection stays on air
    ch = channel(tools, tmp_path, LiveInput("rtmp", "127.0.0.1", port, KEY), grace_ms=6000)
    playlists: list[PList] = []
    url = f"rtmp://127.0.0.1:{port}/live/{KEY}"
    sessions: list[int] = []

    async def story() -> None:
        async with on_air(ch, playlists):
            await until(lambda: ch.ingest.listening and playlists, 10, "the channel")
            await asyncio.sleep(1.0)
            # someone without the key is turned away, and nothing of theirs airs
            await push(tools.ffmpeg, f"rtmp://127.0.0.1:{port}/live/not-the-key", 2)
            assert ch.ingest.rejected == 1 and ch.ingest.segments() == ()
            # the studio: 6 s, a dropped connection, 4 s more; then it stops
            rc, err = await push(tools.ffmpeg, url, 6)
            assert rc == 0, err
            sessions.append(ch.ingest.sessions)
            rc, err = await push(tools.ffmpeg, url, 4)
            assert rc == 0, err
            assert ch.seq.on_live
            await until(lambda: not ch.seq.on_live, 12, "the schedule to resume")
            # the line leads the clock: the way back is told when it airs
            await until(lambda: any(b.after_live for b in ch.told), 10, "the way back")

    run(story())
    segs = list(ch.ingest.segments())
    assert len({s.session for s in segs}) == 2 and sum(s.frames for s in segs) >= 9 * 25
    run(check_segments(tools, ch.storage, segs))
    assert ch.ingest.sessions >= sessions[0] + 1  # it listened again after each sender
    # the channel: the studio's segments between discontinuities, one more where it
    # reconnected, the line's date-times continuous, the numbers never going back
    final = playlists[-1]
    aired = list(final.segments)
    assert [s.seq for s in aired] == list(range(aired[0].seq, aired[-1].seq + 1))
    live = [s for s in aired if is_live(s)]
    assert [s.uri for s in live] == [f"../../live/{CH}/180p/seg-{s.index:05d}.ts" for s in segs]
    first, last = aired.index(live[0]), aired.index(live[-1])
    assert not is_live(aired[first - 1]) and not is_live(aired[last + 1])
    assert aired[first].discontinuity and aired[last + 1].discontinuity
    # a discontinuity where the sender reconnected (and after slate, had the line needed
    # holding while it did); none between two segments of one sender
    session = {f"../../live/{CH}/180p/seg-{s.index:05d}.ts": s.session for s in segs}
    for a, b in itertools.pairwise(aired[first : last + 1]):
        assert is_live(b) or "/slate/" in b.uri
        if is_live(a) and is_live(b):
            assert b.discontinuity == (session[a.uri] != session[b.uri]), (a, b)
        else:
            assert b.discontinuity
    assert_continuous(aired)
    # as-run: the live item with its range, the episodes it overrode, the way back
    went = next(b for b in ch.told if b.item.kind == "live")
    assert went.outcome == Outcome.PLAYED and went.first_seq == live[0].seq
    back = next(b for b in ch.told if b.after_live is not None)
    assert back.after_live is not None
    overridden = [b for b in ch.told if b.outcome == Outcome.OVERRIDDEN]
    begin, end = live[0].pdt_ms, back.actual_ms  # every episode starting in [begin, end)
    covered = list(range(-(-begin // 10_000) * 10_000, end, 10_000))
    assert [b.item.start_ms for b in overridden] == covered
    # the live stretch: the studio's segments, and the slate that held the line while the
    # grace ran out, up to the first segment of the schedule
    span = back.after_live
    assert span.first_seq == live[0].seq and span.last_seq == back.first_seq - 1
    held = [s for s in aired if live[-1].seq < s.seq <= span.last_seq]
    assert all("/slate/" in s.uri for s in held)
    assert (span.start_ms, span.end_ms) == (live[0].pdt_ms, back.actual_ms)
    # a player reading the channel's playlist plays every frame across both switches
    pts = decode_playlist(tools, ch.storage.path(f"{LIVE}/180p.m3u8"), tmp_path / "aired.ts")
    assert len(pts) == round(sum(s.duration for s in aired) * 25)


@pytest.mark.slow
def test_a_studio_goes_live_over_srt(tools: Tools, tmp_path: Path) -> None:
    need(run(has_protocol(tools.ffmpeg, "srt")), "this ffmpeg cannot read SRT (no libsrt)")
    port = free_port()
    ch = channel(tools, tmp_path, LiveInput("srt", "127.0.0.1", port, PASSPHRASE))
    playlists: list[PList] = []

    async def story() -> None:
        async with on_air(ch, playlists):
            await until(lambda: ch.ingest.listening and playlists, 10, "the channel")
            await asyncio.sleep(0.5)
            wrong = f"srt://127.0.0.1:{port}?passphrase=another-passphrase&pbkeylen=16"
            rc, _ = await push(tools.ffmpeg, wrong, 1, fmt="mpegts")
            assert rc != 0  # SRT's handshake refuses it
            good = ch.ingest.source.sender_url() + "&pbkeylen=16"
            rc, err = await push(tools.ffmpeg, good, 4, fmt="mpegts")
            assert rc == 0, err
            await until(
                lambda: any(b.item.kind == "live" for b in ch.told) and not ch.seq.on_live,
                15,
                "the schedule to resume",
            )

    run(story())
    segs = list(ch.ingest.segments())
    assert segs and sum(s.frames for s in segs) >= 2 * 25
    run(check_segments(tools, ch.storage, segs))
    live = [s for s in playlists[-1].segments if is_live(s)]
    assert [s.uri.rsplit("/", 1)[1] for s in live] == [f"seg-{s.index:05d}.ts" for s in segs]
    assert live[0].discontinuity


@pytest.mark.slow
def test_the_station_takes_a_studio_over_rtmp_on_air_and_records_it(
    tmp_path: Path, tools: Tools
) -> None:
    """`diaspor demo`/`playout` with DIASPOR_TV_LIVE_INPUT=rtmp: a studio pushes to the
    channel's RTMP input; the channel's playlists carry the live segments; as-run has a live
    row with its length and the overridden episode."""
    import httpx

    from playout.asrun import AsRunLog
    from tests.tv_support import tv_on_air

    port = free_port()
    key = "studio-key-2026"
    with tv_on_air(
        tmp_path, tools, tv_live_input="rtmp", tv_live_port=port, tv_live_secret=key
    ) as tv:
        deadline = time.monotonic() + 60
        while httpx.get(tv.master, timeout=5).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        studio = subprocess.run(
            [
                tools.ffmpeg,
                "-hide_banner",
                "-v",
                "error",
                "-re",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=320x180:rate=25",
                "-f",
                "lavfi",
                "-i",
                "sine=f=900",
                "-t",
                "12",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "50",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-f",
                "flv",
                f"rtmp://127.0.0.1:{port}/live/{key}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert studio.returncode == 0, studio.stderr
        variant = tv.master.rsplit("/", 1)[0] + "/180p.m3u8"
        saw_live = False
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not saw_live:
            saw_live = "/live/diaspor-tv/" in httpx.get(variant, timeout=5).text
            time.sleep(1)
        assert saw_live, "the studio's segments never reached the channel's playlist"
        time.sleep(12)  # the studio has stopped: grace, then the schedule again
        rows = AsRunLog(tv.station.db, "diaspor-tv").recent(50)
    live = [r for r in rows if r.kind == "live"]
    assert len(live) == 1 and live[0].title == "Canlı yayım", rows
    assert 8_000 < live[0].planned_ms < 40_000, rows  # as long as the studio was on air
