"""The fallback mounts' loop source: which mount catches a live mount's listeners, and the
ffmpeg that feeds every one of them from one looping file (docs/architecture.md, "Radio:
fallback"). Pure: the caller runs the arguments."""

from __future__ import annotations

from collections.abc import Sequence

from streamer.encoder import icecast_output_args
from streamer.outputs import IcecastOutput

FALLBACK_SUFFIX = "-fallback"
LOOP_RATE = 48_000  # as playout's encoder sends: listeners moved across hear no rate change


def fallback_mount(live: str) -> str:
    """The fallback of a live mount, of its format and bit rate: `/diaspor-fm.mp3` ->
    `/diaspor-fm-fallback.mp3`, `/diaspor-fm-64.aac` -> `/diaspor-fm-64-fallback.aac`."""
    stem, dot, ext = live.rpartition(".")
    if not dot or "/" in ext:
        return live + FALLBACK_SUFFIX
    return f"{stem}{FALLBACK_SUFFIX}.{ext}"


def loop_source_args(ffmpeg: str, loop: str, outputs: Sequence[IcecastOutput]) -> list[str]:
    """One ffmpeg reading `loop` over and over in real time (`-re`) and encoding it for each
    output exactly as playout encodes the live mount it stands in for (codec, options, bit
    rate, 48 kHz stereo), so icecast2 may move listeners between the two."""
    args = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-v",
        "warning",
        "-re",
        "-stream_loop",
        "-1",
        "-i",
        loop,
    ]
    for out in outputs:
        args += ["-map", "0:a:0", "-ar", str(LOOP_RATE), "-ac", "2", *icecast_output_args(out)]
    return args
