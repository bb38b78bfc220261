"""The ffmpeg runs that encode a package into the ladder: one run for a whole asset
(`asset_args`), and for the slate one run per rendition (`slate_args`).

One decode per asset. A single ffmpeg run reads the original once; a `filter_complex` makes the
picture constant-frame-rate (`fps`, so every segment is a whole number of frames), pads or cuts
it to the decoded length, then `split`s it into one `scale`+`pad` branch per rung (letterboxed
to the rung's exact size, so every asset's rung N has one resolution and the linear channel
never changes it between items), a poster frame and a thumbnail sprite (`select` every few
seconds, `tile`). Every rung is libx264 with the same fixed GOP (`-g`/`-keyint_min` =
segment × fps, `-sc_threshold 0`, keyframes forced at every multiple of the segment by frame
number), so segment i starts on the same frame, with the same PTS, in every rung. The audio is
brought to the channel target (−16 LUFS, true peak ≤ −1 dBTP by default) with a `volume=` gain
computed from what the analysis measured, by the same rule as the radio (`media/loudness.py`);
there is no second loudness pass. Every rung carries the same AAC-LC 48 kHz stereo, and an
audio-only rendition is cut at the same boundaries; the same sound also goes, whole, into one
`audio.m4a` (AAC in MP4, index first) for podcast apps and downloads, which want a file. A
file without sound gets digital silence, so the channel's audio never stops. The `hls` muxer
with `-var_stream_map` writes all of it.

The slate is a still station-ID card ("Diaspor TV" with `drawtext`, or colour bars where this
ffmpeg has no fonts). Each slate segment is its own short encode (one ffmpeg run per rendition
makes all of its segments), so each starts on a keyframe and on its own timeline.

Audio in such short segments: AAC frames hold 1024 samples (21.33 ms at 48 kHz), and a segment
of f frames lasts f × 1920 samples at 25 fps, a whole number of AAC frames only when f is a
multiple of 8. Each slate segment therefore carries the AAC frames that cover its picture: the
encoder's priming frame, then frames up to the end, the last one padded. Its audio runs up to
one AAC frame (plus priming) past its picture; the player's timeline follows the video, and at
the next discontinuity it starts the next segment's audio afresh. The slate's audio is digital
silence on purpose: an overlap or a gap of a few milliseconds of silence is inaudible, where a
tone would click at every seam.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from media.containers import input_args
from media.ladder import (
    AUDIO,
    SAMPLE_RATE,
    PackagingOptions,
    Rung,
    aac_args,
    fit_filter,
    ladder_hls_args,
    samples_of,
    x264_args,
)
from media.thumbnails import ThumbGrid

AUDIO_FILE = "audio.m4a"  # the same sound in one file, for podcast apps and downloads
SLATE_COLOUR = "0x0b3d5c"


def filter_text(value: str) -> str:
    """Escape a filter option value for a filtergraph (both levels of ffmpeg's quoting)."""
    value = value.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")
    return "".join("\\" + c if c in "\\'[],;" else c for c in value)


def _jpeg(dest: Path, quality: int) -> list[str]:
    return [
        "-frames:v",
        "1",
        "-c:v",
        "mjpeg",
        "-q:v",
        str(quality),
        "-f",
        "image2",
        "-update",
        "1",
        str(dest),
    ]


def asset_args(
    ffmpeg: str,
    src: Path,
    out: Path,
    opts: PackagingOptions,
    *,
    frames: int,
    gain: float,
    has_audio: bool,
    poster_frame: int,
    grid: ThumbGrid,
    extras: bool = True,
) -> list[str]:
    """The one ffmpeg run that packages an asset into `out` (see the module docstring).
    Without `extras` it makes the ladder alone, with no poster, thumbnail sprite or
    `audio.m4a`: what a live re-encode of the channel would make (bench/tv.py's reference)."""
    n = len(opts.ladder)
    top = opts.top
    samples = samples_of(frames, opts.fps)
    vsplit = "".join(f"[s{i}]" for i in range(n)) + ("[sp][st]" if extras else "")
    graph = [
        f"[0:v:0]fps={opts.fps}:start_time=0,tpad=stop=-1:stop_mode=clone,"
        f"trim=end_frame={frames},setsar=1,format=yuv420p,split={n + 2 * extras}{vsplit}",
        *(f"[s{i}]{fit_filter(r.width, r.height)}[v{i}]" for i, r in enumerate(opts.ladder)),
    ]
    if extras:
        graph += [
            f"[sp]trim=start_frame={poster_frame}:end_frame={poster_frame + 1},"
            f"{fit_filter(top.width, top.height)}[poster]",
            f"[st]select='not(mod(n,{grid.every_frames}))',"
            f"{fit_filter(grid.width, grid.height)},tile={grid.columns}x{grid.rows}[thumbs]",
        ]
    sounds = n + 1 + extras  # each rung's, the audio-only rendition's, and audio.m4a's
    asplit = f"asplit={sounds}" + "".join(f"[a{i}]" for i in range(sounds))
    if has_audio:
        graph.append(
            f"[0:a:0]aresample={SAMPLE_RATE}:async=1:first_pts=0,"
            f"aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=stereo,"
            f"volume={gain:.2f}dB,apad,atrim=end_sample={samples},{asplit}"
        )
    else:
        graph.append(f"anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=end_sample={samples},{asplit}")
    encode, streams = ladder_hls_args(opts)
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-v",
        "error",
        "-y",
        *(["-filter_complex_threads", str(opts.threads)] if opts.threads else []),
        *input_args(src),
        "-filter_complex",
        ";".join(graph),
        *encode,
        "-hls_playlist_type",
        "vod",
        "-hls_segment_type",
        "mpegts",
        "-hls_list_size",
        "0",
        "-hls_segment_filename",
        str(out / "%v" / "seg-%05d.ts"),
        "-var_stream_map",
        streams,
        str(out / "%v" / "index.m3u8"),
        *(_extras_outputs(out, opts, f"[a{n + 1}]") if extras else []),
        "-progress",
        "pipe:1",
    ]


def _extras_outputs(out: Path, opts: PackagingOptions, sound: str) -> list[str]:
    """The poster, the thumbnail sprite and the whole sound in one file."""
    return [
        "-map",
        "[poster]",
        *_jpeg(out / "poster.jpg", 3),
        "-map",
        "[thumbs]",
        *_jpeg(out / "thumbs.jpg", 5),
        "-map",
        sound,
        *aac_args(opts),
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(out / AUDIO_FILE),
    ]


def slate_args(
    ffmpeg: str,
    out: Path,
    opts: PackagingOptions,
    frames: Sequence[int],
    rung: Rung | None,
    *,
    text: bool,
) -> list[str]:
    """The slate of one rendition (`rung`, or None for audio-only): one short encode per
    segment, each from its own first frame, so each starts on a keyframe. The top rung's run
    also writes the poster. (One run per rendition rather than one for all keeps the number of
    x264 encoders alive at once, and so the memory, to a segment list's worth.)"""
    top = opts.top
    k = len(frames)
    longest = max(frames)
    audio = (
        f"anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=end_sample={samples_of(longest, opts.fps)},"
        f"asplit={k}" + "".join(f"[a{s}]" for s in range(k))
    )
    graph = [audio]
    graph += [
        f"[a{s}]atrim=end_sample={samples_of(f, opts.fps)}[ao{s}]" for s, f in enumerate(frames)
    ]
    outputs: list[str] = []
    name = rung.name if rung else AUDIO
    if rung is None:
        for s in range(k):
            outputs += [
                "-map",
                f"[ao{s}]",
                *aac_args(opts),
                "-f",
                "mpegts",
                str(out / name / f"seg-{s:05d}.ts"),
            ]
    else:
        if text:
            card = (
                f"color=c={SLATE_COLOUR}:s={top.width}x{top.height}:r={opts.fps},"
                f"drawtext=text={filter_text(opts.slate_text)}:expansion=none:font=Sans:"
                "fontcolor=white:fontsize=h/8:x=(w-tw)/2:y=(h-th)/2"
            )
        else:
            card = f"smptehdbars=s={top.width}x{top.height}:r={opts.fps}"
        poster = rung == top
        graph.append(
            f"{card},trim=end_frame={longest},setsar=1,format=yuv420p,"
            f"{fit_filter(rung.width, rung.height)},split={k + poster}"
            + "".join(f"[v{s}]" for s in range(k))
            + ("[vp]" if poster else "")
        )
        graph += [f"[v{s}]trim=end_frame={f}[vo{s}]" for s, f in enumerate(frames)]
        for s in range(k):
            outputs += [
                "-map",
                f"[vo{s}]",
                "-map",
                f"[ao{s}]",
                *x264_args(opts, gop=opts.gop),
                "-bf",
                "0",
                "-crf",
                "23",
                "-rc-lookahead",
                "0",
                "-maxrate",
                f"{rung.video_kbps}k",
                "-bufsize",
                f"{rung.video_kbps * 2}k",
                "-threads",
                "1",
                *aac_args(opts),
                "-f",
                "mpegts",
                str(out / name / f"seg-{s:05d}.ts"),
            ]
        if poster:
            graph.append("[vp]trim=end_frame=1[poster]")
            outputs += ["-map", "[poster]", *_jpeg(out / "poster.jpg", 3)]
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-v",
        "error",
        "-y",
        "-filter_complex",
        ";".join(graph),
        *outputs,
        "-progress",
        "pipe:1",
    ]
