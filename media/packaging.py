"""HLS packaging: a video asset, or the channel's slate, into the TV ladder, published atomically.

What it leaves in storage, and the manifest the sequencer and the VOD API read, is the contract
in `media/packaged.py`; this module is how it gets there.

An asset is encoded into every rendition by one ffmpeg run (`media/encodes.py` says how). Then
everything is checked before anyone can see it (`check_ladder` in `media/segments.py`: the
renditions line up segment by segment), each rendition is described from what was measured
(CODECS from the stream's SPS, BANDWIDTH from the segment sizes), and WebVTT subtitles are cut
at the same boundaries (`media/webvtt.py`).

Publishing (`publish`): an asset goes to a new prefix of its own, never over the package on air.
Segments, media playlists, subtitles, poster and thumbnails go up first, then `master.m3u8`, then
`package.json`. A reader that finds `package.json` (the sequencer, the VOD API) or `master.m3u8`
(a player) finds everything it names. Any failure removes what was uploaded, so a half-packaged
asset is never published; the switch to the new prefix is the caller's (`media/publications.py`).

The slate (`package_slate`) is a still station-ID card in the same ladder, as segments of 1, 2,
4, …, 128 frames (the powers of two below a full segment) plus one full segment, so that any gap
is filled to the frame: a gap of n frames is some full segments and the binary digits of the
rest. Each slate segment is its own short encode (`media/encodes.py`): it starts on a keyframe
and on its own timeline, so the sequencer must put `#EXT-X-DISCONTINUITY` before every slate
segment, also between two copies of the same one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

from media import hls
from media.artwork import poster_time_ms
from media.binaries import Tools
from media.encodes import AUDIO_FILE, asset_args, slate_args
from media.errors import PackagingError
from media.ladder import (
    AAC_CODECS,
    AUDIO,
    PackagingOptions,
    Rung,
    frames_of,
    ms_of,
)
from media.loudness import gain_db
from media.packaged import (
    MANIFEST,
    Package,
    Published,
    Rendition,
    Subtitle,
    new_publication,
    slate_prefix,
)
from media.process import DecodedTime, run_tool
from media.segments import (
    AAC_FRAME_TICKS,
    SegmentProbe,
    average_bit_rate,
    check_ladder,
    peak_bit_rate,
    probe_segment,
    video_codec_of,
)
from media.storage import Storage
from media.thumbnails import thumb_grid, thumbs_vtt
from media.webvtt import language_name, parse_webvtt, vtt_segments

log = logging.getLogger(__name__)

SLATE_FRAMES = (1, 2, 4, 8, 16, 32, 64, 128)
UPLOADS_AT_ONCE = 8
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

ProgressFn = Callable[[float, str], Awaitable[None]]


# --- playlists ----------------------------------------------------------------------------


def master_playlist(package: Package) -> str:
    """The VOD master: every rung (video + audio), the audio-only rendition, and the subtitle
    renditions as one group that every variant names."""
    variants = [
        hls.Variant(
            r.playlist, r.bandwidth, r.average_bandwidth, r.codecs, r.width, r.height, r.frame_rate
        )
        for r in package.renditions
    ]
    tracks = [hls.SubtitleTrack(s.playlist, s.lang, s.name) for s in package.subtitles]
    return hls.master_playlist(variants, tracks)


# --- the shell: run, check, describe, publish ---------------------------------------------


async def _run_ffmpeg(
    args: list[str], total_us: int, on_progress: ProgressFn | None, what: str, share: float
) -> None:
    decoded = DecodedTime()

    async def progress(block: dict[str, str]) -> None:
        decoded.update(block)
        if on_progress and total_us:
            await on_progress(min(decoded.us / total_us, 1.0) * share, what)

    res = await run_tool(args, on_progress=progress)
    if not res.ok:
        raise PackagingError(f"ffmpeg failed while {what}: {res.last_error_line()}")


def _segment_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("seg-*.ts"))


async def _probe_all(
    tools: Tools, out: Path, names: Sequence[str]
) -> dict[str, list[SegmentProbe]]:
    gate = asyncio.Semaphore(os.cpu_count() or 2)

    async def one(path: Path) -> SegmentProbe:
        async with gate:
            return await probe_segment(tools, path)

    result: dict[str, list[SegmentProbe]] = {}
    for name in names:
        result[name] = list(await asyncio.gather(*(one(p) for p in _segment_files(out / name))))
    return result


async def _renditions(
    tools: Tools,
    out: Path,
    opts: PackagingOptions,
    segments_ms: Sequence[int],
    extra_sizes: Sequence[int],
    *,
    discontinuous: bool = False,
) -> tuple[Rendition, ...]:
    """Measure each rendition, and rewrite its media playlist with exact durations.
    `extra_sizes` (the largest subtitle rendition's segments) is counted into BANDWIDTH: the
    attribute covers every rendition a player may play beside the variant."""
    result: list[Rendition] = []
    for rung in [*opts.ladder, None]:
        name = rung.name if rung else AUDIO
        files = _segment_files(out / name)
        sizes = [f.stat().st_size for f in files]
        names = [f.name for f in files]
        (out / name / "index.m3u8").write_text(
            hls.vod_playlist(names, segments_ms, opts.segment_s, discontinuous=discontinuous),
            encoding="utf-8",
        )
        peak = peak_bit_rate(sizes, segments_ms, opts.segment_s)
        average = average_bit_rate(sizes, segments_ms)
        if extra_sizes:
            peak += peak_bit_rate(extra_sizes, segments_ms, opts.segment_s)
            average += average_bit_rate(extra_sizes, segments_ms)
        if rung is None:
            result.append(Rendition(AUDIO, "audio", peak, average, AAC_CODECS))
            continue
        codecs = f"{await video_codec_of(tools, files[0])},{AAC_CODECS}"
        result.append(
            Rendition(
                rung.name, "video", peak, average, codecs, rung.width, rung.height, float(opts.fps)
            )
        )
    return tuple(result)


def _write_subtitles(
    out: Path, subtitles: Mapping[str, str], segments_ms: Sequence[int], mpegts: int, target_s: int
) -> tuple[tuple[Subtitle, ...], list[int]]:
    """Cut each language at the media's boundaries; return the renditions and, per segment,
    the largest subtitle segment's size (for BANDWIDTH)."""
    subs: list[Subtitle] = []
    largest = [0] * len(segments_ms)
    for lang in sorted(subtitles):
        if not _SLUG.match(lang):
            raise PackagingError(f"{lang!r} is not a language code")
        try:
            doc = parse_webvtt(subtitles[lang])
        except PackagingError as exc:
            raise PackagingError(f"subtitles {lang}: {exc.message}") from exc
        sub = Subtitle(lang, language_name(lang))
        folder = out / "subs" / lang
        folder.mkdir(parents=True, exist_ok=True)
        names = []
        for i, text in enumerate(vtt_segments(doc, segments_ms, mpegts)):
            data = text.encode("utf-8")
            (out / sub.segment(i)).write_bytes(data)
            names.append(Path(sub.segment(i)).name)
            largest[i] = max(largest[i], len(data))
        (out / sub.playlist).write_text(
            hls.vod_playlist(names, segments_ms, target_s), encoding="utf-8"
        )
        subs.append(sub)
    return tuple(subs), largest if subs else []


def _drop_audio_sliver(out: Path, probes: dict[str, list[SegmentProbe]], count: int) -> None:
    """The audio-only rendition is cut where a packet passes the boundary, counted from the
    AAC priming frame, 21 ms before the picture starts. When the picture ends exactly on a
    segment boundary, the last AAC frame (which begins in the last 21 ms and is padded past the
    end) opens one more segment. That sliver, never more than two AAC frames, is dropped."""
    audio = probes.get(AUDIO, [])
    if len(audio) == count + 1 and audio[-1].audio_ticks <= 2 * AAC_FRAME_TICKS:
        (out / AUDIO / f"seg-{count:05d}.ts").unlink()
        audio.pop()


def _staged_dir(staging_dir: Path, what: str) -> Path:
    d = staging_dir / f"{what}-{uuid.uuid4().hex}"
    d.mkdir(parents=True)
    return d


async def package_asset(
    tools: Tools,
    storage: Storage,
    src: Path,
    *,
    media_id: int,
    duration_ms: int,
    loudness_lufs: float | None,
    true_peak_dbtp: float | None,
    has_audio: bool,
    subtitles: Mapping[str, str] | None = None,
    options: PackagingOptions,
    staging_dir: Path,
    on_progress: ProgressFn | None = None,
) -> Published:
    """Package one video file (`src`, a local path) and publish it under a new prefix of its
    own (`hls/assets/<media_id>/<token>/`). Nothing points at it yet: the caller switches the
    media row to it (`media/publications.py`), so the package before stays live until then.

    `duration_ms` is the decoded length from the analysis; `subtitles` maps a language code to
    the WebVTT text. Returns the publication; raises PackagingError (nothing published) or
    StorageError (nothing left behind either).
    """
    opts = options
    frames = frames_of(duration_ms, opts.fps)
    gain = gain_db(loudness_lufs, true_peak_dbtp, opts.target_lufs, opts.max_true_peak_dbtp)
    grid = thumb_grid(frames, opts)
    poster = min(frames_of(poster_time_ms(duration_ms), opts.fps), frames - 1)
    out = _staged_dir(staging_dir, f"package-{media_id}")
    try:
        args = asset_args(
            tools.ffmpeg,
            src,
            out,
            opts,
            frames=frames,
            gain=gain,
            has_audio=has_audio,
            poster_frame=poster,
            grid=grid,
        )
        total_us = frames * 1_000_000 // opts.fps
        await _run_ffmpeg(args, total_us, on_progress, "encoding the ladder", 0.85)
        if on_progress:
            await on_progress(0.86, "checking segments")
        names = [r.name for r in opts.ladder]
        probes = await _probe_all(tools, out, [*names, AUDIO])
        _drop_audio_sliver(out, probes, len(probes[names[0]]))
        seg_frames = check_ladder(probes, rungs=names, fps=opts.fps, gop=opts.gop)
        if sum(seg_frames) != frames:
            raise PackagingError(f"the ladder holds {sum(seg_frames)} frames, not {frames}")
        segments_ms = [ms_of(f, opts.fps) for f in seg_frames]
        mpegts = probes[names[0]][0].first_video_pts or 0
        subs, sub_sizes = _write_subtitles(
            out, subtitles or {}, segments_ms, mpegts, opts.segment_s
        )
        (out / "thumbs.vtt").write_text(thumbs_vtt(grid, frames, opts.fps), encoding="utf-8")
        for still in ("poster.jpg", "thumbs.jpg", AUDIO_FILE):
            if not (out / still).is_file() or (out / still).stat().st_size == 0:
                raise PackagingError(f"ffmpeg did not write {still}")
        package = Package(
            media_id=media_id,
            duration_ms=sum(segments_ms),
            segment_target_s=opts.segment_s,
            frame_rate=float(opts.fps),
            renditions=await _renditions(tools, out, opts, segments_ms, sub_sizes),
            segments_ms=tuple(segments_ms),
            subtitles=subs,
            audio_file=AUDIO_FILE,
            extra={
                "audio_file_bytes": (out / AUDIO_FILE).stat().st_size,
                "frames": frames,
                "segment_frames": seg_frames,
                "gain_db": round(gain, 2),
                "mpegts_start": mpegts,
                "thumbnail_interval_ms": ms_of(grid.every_frames, opts.fps),
            },
        )
        if on_progress:
            await on_progress(0.9, "publishing")
        prefix = new_publication(media_id)
        await publish(storage, prefix, out, package)
    finally:
        await asyncio.to_thread(shutil.rmtree, out, True)
    log.info(
        "asset packaged",
        extra={
            "media": media_id,
            "segments": len(package.segments_ms),
            "renditions": len(package.renditions),
            "subtitles": len(package.subtitles),
        },
    )
    return Published(prefix, package)


async def can_draw_text(tools: Tools) -> bool:
    """Whether this ffmpeg has drawtext and a font fontconfig can find."""
    args = [
        tools.ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        "color=s=64x64:d=0.04,drawtext=text=D:font=Sans",
        "-frames:v",
        "1",
        "-f",
        "null",
        "-",
    ]
    res = await run_tool(args, timeout=30)
    return res.ok


async def package_slate(
    tools: Tools,
    storage: Storage,
    channel: str,
    *,
    options: PackagingOptions,
    staging_dir: Path,
    on_progress: ProgressFn | None = None,
) -> Package:
    """Package the channel's station-ID card into `hls/slate/<channel>/` and publish it."""
    if not _SLUG.match(channel):
        raise PackagingError(f"{channel!r} is not a channel slug")
    opts = options
    frames = [*(f for f in SLATE_FRAMES if f < opts.gop), opts.gop]
    out = _staged_dir(staging_dir, f"slate-{channel}")
    try:
        text = await can_draw_text(tools)
        if not text:
            log.warning("no fonts for drawtext: the slate shows colour bars", extra={})
        for name in [*(r.name for r in opts.ladder), AUDIO]:
            (out / name).mkdir()
        renditions: list[Rung | None] = [*opts.ladder, None]
        for i, rung in enumerate(renditions):
            args = slate_args(tools.ffmpeg, out, opts, frames, rung, text=text)
            await _run_ffmpeg(args, 0, None, "encoding the slate", 0.8)
            if on_progress:
                await on_progress(0.8 * (i + 1) / len(renditions), "encoding the slate")
        names = [r.name for r in opts.ladder]
        probes = await _probe_all(tools, out, [*names, AUDIO])
        check_ladder(
            probes,
            rungs=names,
            fps=opts.fps,
            gop=opts.gop,
            expected_frames=frames,
            continuous=False,
        )
        segments_ms = [ms_of(f, opts.fps) for f in frames]
        package = Package(
            media_id=None,
            duration_ms=sum(segments_ms),
            segment_target_s=opts.segment_s,
            frame_rate=float(opts.fps),
            renditions=await _renditions(tools, out, opts, segments_ms, [], discontinuous=True),
            segments_ms=tuple(segments_ms),
            thumbnails=None,
            slate_frames=tuple(frames),
            extra={
                "channel": channel,
                "card": "text" if text else "colour bars",
                "discontinuity_each_segment": True,
            },
        )
        await publish_in_place(storage, slate_prefix(channel), out, package)
    finally:
        await asyncio.to_thread(shutil.rmtree, out, True)
    log.info("slate packaged", extra={"channel": channel, "frames": frames})
    return package


async def publish(storage: Storage, prefix: str, staged: Path, package: Package) -> None:
    """Upload a staged package to `prefix`, a publication's own (new, empty) folder: the files,
    then `master.m3u8`, then `package.json`. If anything fails, every key under `prefix` is
    removed: a half-written publication is never left behind (and never pointed to)."""
    files = sorted(p for p in staged.rglob("*") if p.is_file())
    keys = {f"{prefix}/{p.relative_to(staged).as_posix()}": p for p in files}
    master_key, manifest_key = f"{prefix}/{Package.master}", f"{prefix}/{MANIFEST}"
    keys.pop(master_key, None)
    keys.pop(manifest_key, None)
    await upload_whole(
        storage,
        prefix,
        {k: partial(storage.put_file, k, p, move=True) for k, p in keys.items()},
        [
            partial(storage.put_bytes, master_key, master_playlist(package).encode("utf-8")),
            partial(storage.put_bytes, manifest_key, package.to_json()),
        ],
    )


async def publish_in_place(storage: Storage, prefix: str, staged: Path, package: Package) -> None:
    """The slate's way: published over the one before, under the same names (the sequencer
    reads the slate once, at its start, and goes on naming its segments). Its manifest and
    master are removed first, and whatever of it the new one does not overwrite after; a
    failure leaves no slate, and the channel says so at its next start."""
    for key in (f"{prefix}/{MANIFEST}", f"{prefix}/{Package.master}"):
        await asyncio.to_thread(storage.delete, key)
    old = set(await asyncio.to_thread(lambda: list(storage.keys(prefix + "/"))))
    new = {f"{prefix}/{p.relative_to(staged).as_posix()}" for p in staged.rglob("*")}
    await publish(storage, prefix, staged, package)
    for key in old - new - {f"{prefix}/{MANIFEST}", f"{prefix}/{Package.master}"}:
        await asyncio.to_thread(storage.delete, key)


async def upload_whole(
    storage: Storage,
    prefix: str,
    writes: Mapping[str, Callable[[], None]],
    last: Sequence[Callable[[], None]],
) -> None:
    """Write a publication under `prefix`: `writes` (key → a blocking write) side by side, then
    `last` in order (the master, then the manifest: a reader that finds either finds
    everything). After one failure no more writes start; every write ends before the folder
    is cleaned, so a cleanup never races an upload in flight. Any failure removes every key
    under `prefix` and is raised."""
    gate = asyncio.Semaphore(UPLOADS_AT_ONCE)
    failed = False

    async def put(write: Callable[[], None]) -> None:
        nonlocal failed
        async with gate:
            if failed:  # after one failure, start no more uploads
                return
            try:
                await asyncio.to_thread(write)
            except BaseException:
                failed = True
                raise

    try:
        results = await asyncio.gather(*(put(w) for w in writes.values()), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        for write in last:
            await asyncio.to_thread(write)
    except BaseException as exc:
        log.warning(
            "package not published; removing what was uploaded",
            extra={"prefix": prefix, "error": str(exc) or type(exc).__name__},
        )
        await asyncio.shield(asyncio.to_thread(remove_prefix, storage, prefix))
        raise


def remove_prefix(storage: Storage, prefix: str) -> None:
    """Delete every key under prefix. Used while another error is on its way up: a failure
    here is logged (the operator must know what was left) and does not hide that error."""
    try:
        for key in list(storage.keys(prefix + "/")):
            storage.delete(key)
    except Exception as exc:
        log.error(
            "could not remove a half-published package",
            extra={"prefix": prefix, "error": f"{type(exc).__name__}: {exc}"},
        )
