"""The TV sequencer lays the timeline onto live HLS playlists: sequence numbers that never go
back (across window slides and restarts), program date-times that are the schedule, hard
starts exact to the frame, missing assets replaced, every rendition alike.

The playlists are parsed here line by line (the `m3u8` package is not in the venv) and held
to the RFC 8216 rules that can be checked mechanically, one playlist and across reloads.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import posixpath
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from media.binaries import Tools
from media.packaged import Package, Rendition, Subtitle, asset_prefix, slate_prefix
from media.storage import LocalStorage
from playout.asrun import Outcome
from playout.sequencer import Sequencer, TvBoundary, live_prefix, stored_packages
from schedules.plan import TimelineItem, from_ms, to_ms
from station.clock import SimulatedClock
from tests.support import make_media, need, run

CH = "diaspor-tv"
LIVE = live_prefix(CH)
T0 = to_ms(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
FPS = 25
FRAME_MS = 40
AZ = "Dünyada yaşayan azərbaycanlıları tanıyaq-tanıdaq"
QARABAG = "Qarabağ — beş dildə beş cümlə"
LADDER = (
    Rendition("720p", "video", 2_600_000, 2_100_000, "avc1.64001f,mp4a.40.2", 1280, 720, 25.0),
    Rendition("360p", "video", 900_000, 700_000, "avc1.64001e,mp4a.40.2", 640, 360, 25.0),
    Rendition("audio", "audio", 140_000, 130_000, "mp4a.40.2"),
)
SUBS = (Subtitle("az", "Azərbaycanca"), Subtitle("en", "English"), Subtitle("ru", "Русский"))
SLATE_FRAMES = (150, 1, 2, 4, 8, 16, 32, 64, 128)


# --- synthetic packages ----------------------------------------------------------------


def put_package(storage: LocalStorage, prefix: str, pkg: Package) -> None:
    """The manifest and a tiny stand-in for every segment it names (bytes do not matter)."""
    storage.put_bytes(f"{prefix}/package.json", pkg.to_json())
    for i in range(len(pkg.segments_ms)):
        for r in pkg.renditions:
            storage.put_bytes(f"{prefix}/{r.segment(i)}", b"\x47" * 188)
        for s in pkg.subtitles:
            storage.put_bytes(f"{prefix}/{s.segment(i)}", b"WEBVTT\n\n")


def slate_package() -> Package:
    return Package(
        None,
        sum(SLATE_FRAMES) * FRAME_MS,
        6,
        25.0,
        LADDER,
        tuple(f * FRAME_MS for f in SLATE_FRAMES),
        slate_frames=SLATE_FRAMES,
        poster=None,
        thumbnails=None,
    )


def asset(
    media_id: int,
    segments_ms: Sequence[int],
    subs: Sequence[Subtitle] = (),
    ladder: Sequence[Rendition] = LADDER,
) -> Package:
    return Package(
        media_id, sum(segments_ms), 6, 25.0, tuple(ladder), tuple(segments_ms), tuple(subs)
    )


def item(
    start_ms: int,
    end_ms: int,
    media_id: int | None,
    kind: str = "programme",
    title: str = "",
    hard: bool = False,
) -> TimelineItem:
    return TimelineItem(
        T0 + start_ms, T0 + end_ms, kind, media_id, 0, end_ms - start_ms, hard=hard, title=title
    )


# The day's first minute and a half, repeated every 90 s. Asset 12 (20 s, Azerbaijani
# subtitles) in a 23 s slot; a 7 s slate gap; asset 13 at a hard 30 s, in a slot a quarter
# of a frame longer than it; a missing asset; asset 12 again.
PATTERN = (
    (0, 23_000, 12, "programme", AZ),
    (23_000, 30_000, None, "slate", ""),
    (30_000, 45_530, 13, "programme", QARABAG),
    (45_530, 60_000, 99, "programme", "Vətən uzaqda deyil"),
    (60_000, 90_000, 12, "programme", AZ),
)
PERIOD = 90_000


class Timeline:
    """The channel's timeline as a function of a time range, like schedules.timeline."""

    def __init__(
        self,
        pattern: Sequence[tuple[int, int, int | None, str, str]] = PATTERN,
        period: int = PERIOD,
    ) -> None:
        self.pattern, self.period = pattern, period
        self.calls = 0

    def __call__(self, a: int, b: int) -> list[TimelineItem]:
        self.calls += 1
        out = []
        k = (a - T0) // self.period - 1
        while T0 + k * self.period < b:
            base = k * self.period
            for s, e, mid, kind, title in self.pattern:
                it = item(base + s, base + e, mid, kind, title, hard=True)
                if it.end_ms > a and it.start_ms < b:
                    out.append(it)
            k += 1
        return out


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    st_ = LocalStorage(tmp_path / "store")
    put_package(st_, slate_prefix(CH), slate_package())
    put_package(st_, asset_prefix(12), asset(12, [6000, 6000, 6000, 2000], SUBS[:1]))
    put_package(st_, asset_prefix(13), asset(13, [6000, 6000, 3520]))
    put_package(st_, asset_prefix(14), asset(14, [2000, 2000]))  # a filler clip
    return st_


def sequencer(storage: LocalStorage, **kw: object) -> Sequencer:
    kw.setdefault("subtitles", SUBS)
    kw.setdefault("packages", stored_packages(storage, asset_prefix))
    return Sequencer(CH, storage, kw.pop("timeline", Timeline()), **kw)  # type: ignore[arg-type]


# --- reading playlists back -----------------------------------------------------------------


@dataclass(frozen=True)
class PSeg:
    seq: int
    disc_seq: int  # RFC 8216 §6.2.1: discontinuity sequence number of the segment
    discontinuity: bool
    pdt_ms: int
    duration: Decimal
    uri: str


@dataclass(frozen=True)
class PList:
    version: int
    target: int
    mseq: int
    dseq: int
    segments: tuple[PSeg, ...]

    @property
    def total(self) -> Decimal:
        return sum((s.duration for s in self.segments), Decimal(0))


HEADER = (
    "#EXT-X-VERSION",
    "#EXT-X-TARGETDURATION",
    "#EXT-X-MEDIA-SEQUENCE",
    "#EXT-X-DISCONTINUITY-SEQUENCE",
    "#EXT-X-INDEPENDENT-SEGMENTS",
)
PDT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def parse_media(text: str) -> PList:
    """A live media playlist, held to RFC 8216 §4 on the way."""
    assert text.endswith("\n")
    lines = text[:-1].split("\n")
    assert lines[0] == "#EXTM3U"  # §4.3.1.1
    header: dict[str, str] = {}
    segs: list[PSeg] = []
    pending: dict[str, str] = {}
    discs = 0
    for line in lines[1:]:
        assert line and line == line.strip()
        if line.startswith("#EXT"):
            name, _, value = line.partition(":")
            if name in HEADER:  # once each, before any segment (§4.3.3, §4.3.5)
                assert not segs and not pending and name not in header, line
                header[name] = value
            elif name == "#EXT-X-DISCONTINUITY":
                pending["disc"] = "1"
                discs += 1
            elif name == "#EXT-X-PROGRAM-DATE-TIME":
                assert PDT.match(value), value
                pending["pdt"] = value
            elif name == "#EXTINF":
                duration, _, _title = value.partition(",")
                assert re.fullmatch(r"\d+\.\d+", duration), value
                pending["dur"] = duration
            else:
                raise AssertionError(f"unexpected tag {line}")
            continue
        assert not line.startswith("#")
        assert "dur" in pending and "pdt" in pending, f"{line} lacks EXTINF or date-time"
        pdt = to_ms(datetime.fromisoformat(pending["pdt"].replace("Z", "+00:00")))
        mseq = int(header["#EXT-X-MEDIA-SEQUENCE"])
        dseq = int(header["#EXT-X-DISCONTINUITY-SEQUENCE"])
        segs.append(
            PSeg(
                mseq + len(segs),
                dseq + discs,
                "disc" in pending,
                pdt,
                Decimal(pending["dur"]),
                line,
            )
        )
        pending = {}
    assert not pending, "tags after the last segment"
    assert "#EXT-X-ENDLIST" not in text  # live
    assert "#EXT-X-INDEPENDENT-SEGMENTS" in header
    pl = PList(
        int(header["#EXT-X-VERSION"]),
        int(header["#EXT-X-TARGETDURATION"]),
        int(header["#EXT-X-MEDIA-SEQUENCE"]),
        int(header["#EXT-X-DISCONTINUITY-SEQUENCE"]),
        tuple(segs),
    )
    assert pl.version >= 3  # decimal EXTINF (§7)
    for s in pl.segments:  # §4.3.3.1: each EXTINF, rounded, at most the target duration
        assert int(s.duration + Decimal("0.5")) <= pl.target, s
    return pl


def parse_attrs(text: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', text)}


def check_reload(a: PList, b: PList) -> None:
    """What RFC 8216 §6.2.1-§6.2.2 allow between two versions of one live playlist: segments
    leave from the front and are added at the end, each keeps its number, URI, duration,
    date-time and discontinuity number, and the target duration never changes."""
    assert b.target == a.target
    assert b.mseq >= a.mseq and b.dseq >= a.dseq
    old = {s.seq: s for s in a.segments}
    for s in b.segments:
        if s.seq in old:
            assert s == old[s.seq], (s, old[s.seq])
        else:
            assert not a.segments or s.seq > a.segments[-1].seq
    gone = [s for s in a.segments if s.seq < b.mseq]
    if not a.segments or b.mseq <= a.segments[-1].seq + 1:
        assert b.dseq - a.dseq == sum(s.discontinuity for s in gone)
    else:  # segments came and went between the two reads: at least these tags left
        assert b.dseq - a.dseq >= sum(s.discontinuity for s in gone)
    if gone:
        assert b.total >= 3 * b.target  # never shrunk below three target durations


def read(storage: LocalStorage, name: str) -> str:
    return storage.path(f"{LIVE}/{name}").read_text(encoding="utf-8")


def names(seq: Sequencer) -> list[str]:
    return [seq.playlist_name(r.name) for r in LADDER] + [
        seq.subtitle_playlist_name(s.lang) for s in SUBS
    ]


Snapshot = dict[str, PList]


Tick = Callable[[int], None]


async def walk(
    seq: Sequencer,
    storage: LocalStorage,
    t_from: int,
    t_to: int,
    every_ms: int = 200,
    before: Tick | None = None,
    after: Tick | None = None,
) -> list[tuple[int, Snapshot]]:
    """Step the sequencer from t_from to t_to (`before` and `after` each step, given its
    time); a snapshot of every playlist after each change, each checked against the
    previous one."""
    snaps: list[tuple[int, Snapshot]] = []
    last: dict[str, str] = {}
    t = t_from
    while t <= t_to:
        if before is not None:
            before(t)
        await seq.step(t)
        if after is not None:
            after(t)
        texts = {n: read(storage, n) for n in names(seq)}
        if texts != last:
            snap = {n: parse_media(x) for n, x in texts.items()}
            if snaps:
                for n in snap:
                    check_reload(snaps[-1][1][n], snap[n])
            snaps.append((t, snap))
            last = texts
        t += every_ms
    return snaps


def aired(snaps: list[tuple[int, Snapshot]], name: str = "720p.m3u8") -> list[PSeg]:
    """Every segment that was ever listed, in order."""
    seen: dict[int, PSeg] = {}
    for _, snap in snaps:
        for s in snap[name].segments:
            seen.setdefault(s.seq, s)
    out = [seen[k] for k in sorted(seen)]
    assert [s.seq for s in out] == list(range(out[0].seq, out[-1].seq + 1)), "a number skipped"
    return out


def frames(s: PSeg) -> int:
    n = s.duration * FPS
    assert n == int(n), f"{s.duration} s is not whole frames"
    return int(n)


# --- the stories --------------------------------------------------------------------------------


def test_hard_start_after_a_slate_gap_lands_on_its_frame(storage: LocalStorage) -> None:
    seq = sequencer(storage)
    snaps = run(walk(seq, storage, T0 + 1000, T0 + 40_000))
    segs = aired(snaps)
    hard = next(s for s in segs if s.pdt_ms == T0 + 30_000)
    before = [s for s in segs if T0 + 20_000 <= s.pdt_ms < T0 + 30_000]
    # asset 12 ends at 20 s: its 3 s remainder is 75 frames, then the 7 s slate item is 175.
    fill_a = [frames(s) for s in before if s.pdt_ms < T0 + 23_000]
    fill_b = [frames(s) for s in before if s.pdt_ms >= T0 + 23_000]
    assert fill_a == [64, 8, 2, 1] and sum(fill_a) == 75
    assert fill_b == [150, 16, 8, 1] and sum(fill_b) == 175
    assert all(s.discontinuity and "/slate/" in s.uri for s in before)
    # the line's own arithmetic: where the hard start's first frame lies, exactly
    line = {x.pdt_ms: x for x in seq.segments}
    assert line[T0 + 30_000].start == Fraction(T0 + 30_000)
    total_frames = sum(frames(s) for s in segs if s.pdt_ms < T0 + 30_000)
    assert total_frames == 30 * FPS  # 20 s of asset + 75 + 175 frames of slate
    assert hard.discontinuity and hard.uri == "../../assets/13/720p/seg-00000.ts"
    # EXTINF of the slate pieces, to the millisecond
    assert [str(s.duration) for s in before] == [
        "2.560",
        "0.320",
        "0.080",
        "0.040",
        "6.000",
        "0.640",
        "0.320",
        "0.040",
    ]


def test_program_date_time_is_the_schedule_at_every_item_boundary(
    storage: LocalStorage,
) -> None:
    timeline = Timeline()
    seq = sequencer(storage, timeline=timeline)
    snaps = run(walk(seq, storage, T0 + 1000, T0 + 200_000, every_ms=500))
    segs = aired(snaps)
    starts = {it.start_ms: it for it in timeline(T0, T0 + 220_000)}
    opening = [s for s in segs if s.pdt_ms in starts]
    laid = [it for it in starts.values() if segs[0].pdt_ms <= it.start_ms <= segs[-1].pdt_ms]
    assert len(opening) == len(laid) >= 10
    for s in opening:
        assert s.discontinuity  # every item opens with a discontinuity
    # within an item the date-times advance by the EXTINFs; across a boundary they jump to
    # the schedule (here: a quarter frame after asset 13's 15.52 s, at 45.53 s)
    for a, b in itertools.pairwise(segs):
        expected = a.pdt_ms + int(a.duration * 1000)
        if b.pdt_ms in starts:
            assert abs(b.pdt_ms - expected) <= FRAME_MS // 2
        else:
            assert b.pdt_ms == expected, (a, b)
    assert T0 + 45_530 in {s.pdt_ms for s in segs}


def test_numbers_continue_across_window_slides(storage: LocalStorage) -> None:
    seq = sequencer(storage)
    snaps = run(walk(seq, storage, T0 + 1000, T0 + 180_000))
    first, last = snaps[0][1]["720p.m3u8"], snaps[-1][1]["720p.m3u8"]
    assert first.mseq == 0 and first.dseq == 0
    assert last.mseq > 40 and last.dseq > 20  # many slid out (check_reload did the rest)
    for _, snap in snaps:
        pl = snap["720p.m3u8"]
        assert len(pl.segments) >= min(10, pl.segments[-1].seq + 1)
        assert pl.target == 6  # from the slate and the channel's 6 s segments, never changing
        # a window longer than `window` only while three target durations need it
        if len(pl.segments) > 10:
            assert pl.total - pl.segments[0].duration < 18


def test_every_rendition_and_subtitle_lists_the_same_segments(storage: LocalStorage) -> None:
    seq = sequencer(storage)
    snaps = run(walk(seq, storage, T0 + 1000, T0 + 100_000))
    for _, snap in snaps:
        shape = {
            n: [(s.seq, s.disc_seq, s.discontinuity, s.pdt_ms, s.duration) for s in pl.segments]
            for n, pl in snap.items()
        }
        assert len({json.dumps(v, default=str) for v in shape.values()}) == 1
        assert len({(pl.mseq, pl.dseq, pl.target) for pl in snap.values()}) == 1
    az, en = aired(snaps, "subs-az.m3u8"), aired(snaps, "subs-en.m3u8")
    video = aired(snaps)
    for v, a, e in zip(video, az, en, strict=True):
        if v.uri.startswith("../../assets/12/"):  # asset 12 has Azerbaijani subtitles
            assert a.uri == v.uri.replace("/720p/", "/subs/az/").replace(".ts", ".vtt")
        else:
            assert a.uri == "empty.vtt"
        assert e.uri == "empty.vtt"
    assert video[0].uri.replace("720p", "360p") in {s.uri for s in aired(snaps, "360p.m3u8")}
    assert storage.path(f"{LIVE}/empty.vtt").read_bytes().startswith(b"WEBVTT")
    # every URI, relative to the live folder, names a stored file
    for n in names(seq):
        for s in aired(snaps, n):
            assert storage.exists(posixpath.normpath(f"{LIVE}/{s.uri}")), s.uri


def test_master_playlist_lists_the_ladder_and_subtitles(storage: LocalStorage) -> None:
    seq = sequencer(storage)
    run(seq.step(T0 + 1000))
    text = read(storage, "master.m3u8")
    lines = text.splitlines()
    assert lines[:3] == ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    media = [parse_attrs(x.split(":", 1)[1]) for x in lines if x.startswith("#EXT-X-MEDIA:")]
    assert [(m["TYPE"], m["GROUP-ID"], m["LANGUAGE"], m["NAME"], m["URI"]) for m in media] == [
        ("SUBTITLES", "subs", "az", "Azərbaycanca", "subs-az.m3u8"),
        ("SUBTITLES", "subs", "en", "English", "subs-en.m3u8"),
        ("SUBTITLES", "subs", "ru", "Русский", "subs-ru.m3u8"),
    ]
    streams = [
        (parse_attrs(x.split(":", 1)[1]), lines[i + 1])
        for i, x in enumerate(lines)
        if x.startswith("#EXT-X-STREAM-INF:")
    ]
    assert [u for _, u in streams] == ["720p.m3u8", "360p.m3u8", "audio.m3u8"]
    hd, _ = streams[0]
    assert hd == {
        "BANDWIDTH": "2600000",
        "AVERAGE-BANDWIDTH": "2100000",
        "CODECS": "avc1.64001f,mp4a.40.2",
        "RESOLUTION": "1280x720",
        "FRAME-RATE": "25.000",
        "SUBTITLES": "subs",
    }
    audio, _ = streams[2]
    assert audio == {
        "BANDWIDTH": "140000",
        "AVERAGE-BANDWIDTH": "130000",
        "CODECS": "mp4a.40.2",
        "SUBTITLES": "subs",
    }
    for _, uri in streams:
        assert storage.exists(f"{LIVE}/{uri}")


def test_a_missing_asset_is_slate_and_the_stream_goes_on(storage: LocalStorage) -> None:
    told: list[TvBoundary] = []
    seq = sequencer(storage, hooks=[told.append])
    snaps = run(walk(seq, storage, T0 + 1000, T0 + 75_000))
    missing = next(b for b in told if b.item.media_id == 99)
    assert missing.outcome == Outcome.MISSING
    segs = {s.seq: s for s in aired(snaps)}
    own = [segs[n] for n in range(missing.first_seq, missing.last_seq + 1)]
    assert all("/slate/" in s.uri for s in own)
    assert own[0].pdt_ms == T0 + 45_530
    # 14.47 s from where the line stands (45.52 s) to 60 s: 362 frames
    assert sum(frames(s) for s in own) == 362
    assert segs[missing.last_seq + 1].uri == "../../assets/12/720p/seg-00000.ts"
    assert segs[missing.last_seq + 1].pdt_ms == T0 + 60_000


def test_a_missing_asset_is_replaced_by_the_channel_filler(storage: LocalStorage) -> None:
    told: list[TvBoundary] = []
    seq = sequencer(storage, hooks=[told.append], filler_media_id=14)
    snaps = run(walk(seq, storage, T0 + 1000, T0 + 75_000))
    missing = next(b for b in told if b.item.media_id == 99)
    assert missing.outcome == Outcome.MISSING
    segs = {s.seq: s for s in aired(snaps)}
    own = [segs[n] for n in range(missing.first_seq, missing.last_seq + 1)]
    clips = [s.uri.split("/")[4:] for s in own if "/assets/14/" in s.uri]
    # looped while a clip fits (14 s), then 12 frames of slate
    assert clips == [["720p", "seg-00000.ts"], ["720p", "seg-00001.ts"]] * 3 + [
        ["720p", "seg-00000.ts"]
    ]
    assert [s.discontinuity for s in own] == [True, False] * 3 + [True, True, True]
    assert [frames(s) for s in own[7:]] == [8, 4]
    assert sum(frames(s) for s in own) == 362


def test_an_asset_published_anew_while_it_airs_is_followed_and_a_lost_pointer_is_ridden_out(
    storage: LocalStorage,
) -> None:
    """Asset 12 is moved to a new prefix (its on-demand window closed) while its first slot
    airs: the segments already listed keep their URIs, the rest come from the new prefix,
    behind a discontinuity. Later the database goes away: the last pointer read is used."""
    twelve = asset(12, [6000, 6000, 6000, 2000], SUBS[:1])
    old, new = f"{asset_prefix(12)}/{'a' * 32}", f"{asset_prefix(12)}/{'b' * 32}"
    put_package(storage, old, twelve)
    put_package(storage, new, twelve)
    where = {12: old, 13: asset_prefix(13)}
    away = [False]

    def prefix_of(media_id: int) -> str | None:
        if away[0]:
            raise OSError("database away")
        return where.get(media_id)

    def world(t: int) -> None:
        if t >= T0 + 1500:
            where[12] = new
        away[0] = t >= T0 + 40_000

    told: list[TvBoundary] = []
    seq = sequencer(storage, packages=stored_packages(storage, prefix_of), hooks=[told.append])
    segs = aired(run(walk(seq, storage, T0 + 1000, T0 + 70_000, before=world)))
    first = [s for s in segs if T0 <= s.pdt_ms < T0 + 23_000 and "/assets/12/" in s.uri]
    assert [s.uri.split("/")[-3:] for s in first] == [
        ["a" * 32, "720p", "seg-00000.ts"],
        ["a" * 32, "720p", "seg-00001.ts"],
        ["a" * 32, "720p", "seg-00002.ts"],  # listed before the move (the lead is 18 s)
        ["b" * 32, "720p", "seg-00003.ts"],
    ]
    assert [s.discontinuity for s in first] == [True, False, False, True]
    assert [s.pdt_ms - T0 for s in first] == [0, 6000, 12000, 18000]  # still to the frame
    again = [s for s in segs if T0 + 60_000 <= s.pdt_ms < T0 + 80_000]
    assert again and all(f"/{'b' * 32}/" in s.uri for s in again)  # while the database was away
    assert {b.item.start_ms - T0: b.outcome for b in told if b.item.media_id == 12} == {
        0: Outcome.PLAYED,
        60_000: Outcome.PLAYED,
    }


def test_an_asset_with_another_ladder_or_long_segments_is_missing(
    storage: LocalStorage,
) -> None:
    put_package(storage, asset_prefix(12), asset(12, [6000, 6000, 6000, 2000], ladder=LADDER[:2]))
    put_package(storage, asset_prefix(13), asset(13, [7000, 6000, 2520]))  # 7 s > target
    told: list[TvBoundary] = []
    seq = sequencer(storage, hooks=[told.append])
    run(walk(seq, storage, T0 + 1000, T0 + 50_000, every_ms=1000))
    outcome = {b.item.media_id: b.outcome for b in told}
    assert outcome[12] == Outcome.MISSING and outcome[13] == Outcome.MISSING
    assert all("/assets/" not in s.uri for s in parse_media(read(storage, "720p.m3u8")).segments)


def test_boundaries_report_each_item_when_it_airs(storage: LocalStorage) -> None:
    told: list[tuple[int, TvBoundary]] = []
    clock_ms = [0]

    def hook(b: TvBoundary) -> None:
        told.append((clock_ms[0], b))

    seq = sequencer(storage, hooks=[hook])

    async def go() -> None:
        t = T0 + 1000
        while t <= T0 + 95_000:
            clock_ms[0] = t
            await seq.step(t)
            t += 100

    run(go())
    items = [b.item for _, b in told]
    assert [(i.start_ms - T0, i.kind, i.media_id) for i in items] == [
        (0, "programme", 12),
        (23_000, "slate", None),
        (30_000, "programme", 13),
        (45_530, "programme", 99),
        (60_000, "programme", 12),
        (90_000, "programme", 12),
    ]
    assert [b.outcome for _, b in told] == [
        Outcome.PLAYED,
        Outcome.PLAYED,
        Outcome.PLAYED,
        Outcome.MISSING,
        Outcome.PLAYED,
        Outcome.PLAYED,
    ]
    for at, b in told[1:]:
        assert abs(b.actual_ms - b.item.start_ms) <= FRAME_MS // 2
        assert b.actual_ms <= at < b.actual_ms + 100  # told on the step that reaches it
    first_at, first = told[0]  # the line began with the item on air, from its start
    assert (first_at, first.actual_ms) == (T0 + 1000, T0)
    ranges = [(b.first_seq, b.last_seq) for _, b in told]
    for (_, hi), (lo, _) in itertools.pairwise(ranges):
        assert lo == hi + 1  # consecutive items, consecutive segments
    np = told[2][1].now_playing
    assert np.current is not None and np.current.title == QARABAG
    assert [t.title for t in np.next] == ["Vətən uzaqda deyil", AZ, AZ]  # slates not announced


def test_segments_appear_a_hold_back_ahead_of_their_time(storage: LocalStorage) -> None:
    seq = sequencer(storage)

    async def go() -> None:
        t = T0 + 1000
        while t <= T0 + 60_000:
            await seq.step(t)
            last = seq.segments[-1]
            assert last.end <= t + seq.lead_ms  # nothing shown before its end is that close
            assert last.end > t + seq.lead_ms - 6000  # nothing due held back
            t += 333

    run(go())
    assert seq.lead_ms == 18_000


def test_a_restarted_sequencer_continues_the_numbers(storage: LocalStorage, tmp_path: Path) -> None:
    # one sequencer stopped at 40 s and a new one on the same storage, beside one that ran on
    other = LocalStorage(tmp_path / "other")
    shutil.copytree(storage.root, other.root, dirs_exist_ok=True)
    first = sequencer(storage)
    before = run(walk(first, storage, T0 + 1000, T0 + 40_000))
    told: list[TvBoundary] = []
    second = sequencer(storage, hooks=[told.append])
    after = run(walk(second, storage, T0 + 40_200, T0 + 120_000))
    for n in names(second):
        check_reload(before[-1][1][n], after[0][1][n])
    steady = sequencer(other)
    whole = run(walk(steady, other, T0 + 1000, T0 + 120_000))
    for n in names(second):  # the restart is invisible: the very same playlists
        assert read(storage, n) == read(other, n)
    assert [s.seq for s in aired(before + after)] == [s.seq for s in aired(whole)]
    assert told[0].item.start_ms == T0 + 45_530  # the next item, told once, not again


def test_a_restart_writes_the_playlists_again_from_its_state(storage: LocalStorage) -> None:
    # Playlists are not forced to disk (the state is): after a power cut one may be empty.
    first = sequencer(storage)
    run(walk(first, storage, T0 + 1000, T0 + 40_000))
    written = {n: read(storage, n) for n in names(first)}
    for n in names(first):
        storage.put_bytes(f"{LIVE}/{n}", b"")
    second = sequencer(storage)
    run(second.step(T0 + 40_000))  # nothing new is due: only the state's playlists
    assert {n: read(storage, n) for n in names(second)} == written


def test_after_hours_down_the_numbers_count_what_would_have_aired(
    storage: LocalStorage, tmp_path: Path
) -> None:
    other = LocalStorage(tmp_path / "other")
    shutil.copytree(storage.root, other.root, dirs_exist_ok=True)
    first = sequencer(storage)
    before = run(walk(first, storage, T0 + 1000, T0 + 40_000))
    later = T0 + 3 * 3_600_000 + 12_345
    told: list[TvBoundary] = []
    second = sequencer(storage, hooks=[told.append])
    after = run(walk(second, storage, later, later))
    steady = sequencer(other)
    run(walk(steady, other, T0 + 1000, T0 + 40_000))
    run(walk(steady, other, later, later))  # one step across the same three hours
    for n in names(second):
        assert read(storage, n) == read(other, n)
        check_reload(before[-1][1][n], after[0][1][n])
    pl = after[0][1]["720p.m3u8"]
    assert pl.mseq > 3 * 3600 // 6  # at least one segment per 6 s went by
    assert [b.item.start_ms for b in told] == [T0 + 3 * 3_600_000]  # only what is on air


def test_down_beyond_the_catch_up_limit_the_numbers_jump_forward(
    storage: LocalStorage,
) -> None:
    first = sequencer(storage)
    before = run(walk(first, storage, T0 + 1000, T0 + 40_000))
    later = T0 + 3_600_000
    second = sequencer(storage, catch_up_limit_ms=600_000)
    timeline_calls = Timeline()
    second.timeline = timeline_calls
    after = run(walk(second, storage, later, later + 30_000))
    a, b = before[-1][1]["720p.m3u8"], after[0][1]["720p.m3u8"]
    check_reload(a, b)
    passed_frames = (later + second.lead_ms - (T0 + 40_000 + 18_000)) * FPS // 1000
    assert b.mseq >= a.segments[-1].seq + 1 + passed_frames
    assert b.segments[0].disc_seq > a.segments[-1].disc_seq
    assert b.segments[0].pdt_ms == T0 + 3_600_000  # the item on air, from its start
    assert timeline_calls.calls <= 3  # it did not walk the hour


def test_run_on_a_simulated_clock_matches_stepping(storage: LocalStorage, tmp_path: Path) -> None:
    other = LocalStorage(tmp_path / "other")
    shutil.copytree(storage.root, other.root, dirs_exist_ok=True)
    clock = SimulatedClock(from_ms(T0 + 1000))
    seq = sequencer(storage)

    async def on_air() -> None:
        await seq.run(clock, asyncio.Event(), until_ms=T0 + 50_000)

    run(on_air())
    assert to_ms(clock.now()) == T0 + 50_000
    stepped = sequencer(other)
    run(walk_plain(stepped, T0 + 1000, T0 + 1000))  # began at the same instant
    run(stepped.step(T0 + 50_000))
    for n in names(seq):
        assert read(storage, n) == read(other, n)


def test_without_a_slate_the_channel_does_not_start(tmp_path: Path) -> None:
    from playout.sequencer import SequencerError

    with pytest.raises(SequencerError, match="no slate"):
        run(sequencer(LocalStorage(tmp_path)).step(T0))


# --- real media: the live playlist plays -----------------------------------------------------


def _hls_durations(index: Path) -> list[int]:
    return [round(float(x) * 1000) for x in re.findall(r"#EXTINF:([\d.]+),", index.read_text())]


@pytest.mark.slow
def test_real_segments_decode_across_item_boundaries(tools: Tools, tmp_path: Path) -> None:
    need(tools.ffprobe is not None, "ffprobe is not installed")
    assert tools.ffprobe is not None
    ff = tools.ffmpeg
    store = LocalStorage(tmp_path / "store")
    rung = Rendition("90p", "video", 300_000, 200_000, "avc1.64000b,mp4a.40.2", 160, 90, 25.0)
    video = [
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-sc_threshold",
        "0",
        "-c:a",
        "aac",
        "-b:a",
        "48k",
        "-ar",
        "48000",
        "-f",
        "hls",
        "-hls_playlist_type",
        "vod",
    ]

    def encode(prefix: str, source: str, frames: int, *extra: str) -> list[int]:
        d = store.path(prefix) / "90p"
        make_media(
            ff,
            d / "index.m3u8",
            "-f",
            "lavfi",
            "-i",
            f"{source}=size=160x90:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-frames:v",
            str(frames),
            "-t",
            str(frames / FPS),
            *video,
            *extra,
            "-hls_segment_filename",
            str(d / "seg-%05d.ts"),
        )
        return _hls_durations(d / "index.m3u8")

    # two programmes with a fixed 2 s GOP (7 s and 5 s), and a slate made in one encode:
    # keyframes exactly where each piece begins, a segment cut at every keyframe
    for mid, secs in ((1, 7), (2, 5)):
        durations = encode(
            asset_prefix(mid),
            "testsrc2",
            secs * FPS,
            "-g",
            "50",
            "-keyint_min",
            "50",
            "-hls_time",
            "2",
        )
        assert sum(durations) == secs * 1000
        pkg = Package(mid, secs * 1000, 2, 25.0, (rung,), tuple(durations))
        store.put_bytes(f"{asset_prefix(mid)}/package.json", pkg.to_json())
    pieces = (50, 32, 16, 8, 4, 2, 1)
    cuts = [sum(pieces[:i]) / FPS for i in range(len(pieces))]
    durations = encode(
        slate_prefix(CH),
        "smptebars",
        sum(pieces),
        "-g",
        "1000",
        "-force_key_frames",
        ",".join(f"{c:.2f}" for c in cuts),
        "-hls_time",
        "0.01",
    )
    assert durations == [f * FRAME_MS for f in pieces]
    slate = Package(None, sum(durations), 2, 25.0, (rung,), tuple(durations), slate_frames=pieces)
    store.put_bytes(f"{slate_prefix(CH)}/package.json", slate.to_json())

    timeline = Timeline(
        pattern=(
            (0, 9_600, 1, "programme", AZ),  # 7 s, then 65 frames of slate
            (9_600, 20_000, 2, "programme", QARABAG),  # 5 s, then 135 frames
            (20_000, 23_320, None, "slate", ""),  # 83 frames
            (23_320, 40_000, 1, "programme", AZ),
            (40_000, 60_000, 2, "programme", QARABAG),
        ),
        period=60_000,
    )
    seq = Sequencer(CH, store, timeline, packages=stored_packages(store, asset_prefix), window=200)
    run(walk_plain(seq, T0, T0 + 40_000))
    live = store.path(f"{LIVE}/90p.m3u8")
    text = live.read_text()
    pl = parse_media(text)
    assert pl.segments[0].pdt_ms == T0 and pl.segments[-1].pdt_ms > T0 + 40_000
    expected = int(pl.total * FPS)
    # a finished copy beside it (same relative URIs), so ffmpeg reads it once and stops
    done = live.with_name("90p-done.m3u8")
    done.write_text(text + "#EXT-X-ENDLIST\n")
    # ffmpeg's HLS demuxer ignores EXT-X-DISCONTINUITY; -dts_delta_threshold 0 makes it
    # re-base at every timestamp jump, as a player does at a discontinuity. Within an
    # item the timestamps are the asset's own and continuous, so it changes nothing there.
    base = [
        ff,
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
    out = tmp_path / "aired.ts"
    copy = subprocess.run(
        [*base, "-map", "0:v", "-c", "copy", str(out)], capture_output=True, text=True
    )
    assert copy.returncode == 0 and copy.stderr == "", copy.stderr
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
    pts = [int(x) for x in probe.stdout.split()]
    assert len(pts) == expected  # every frame the playlist promised, and no more
    assert {b - a for a, b in itertools.pairwise(pts)} == {90_000 // FPS}


async def walk_plain(seq: Sequencer, t_from: int, t_to: int, every_ms: int = 500) -> None:
    t = t_from
    while t <= t_to:
        await seq.step(t)
        t += every_ms
