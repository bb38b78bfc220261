"""The radio's fallback loop, apart from playout: the default bed it renders when the
operator gives no file of their own, and the process that keeps icecast2's fallback mounts
fed with it, so listeners stay connected while playout restarts or hands over
(docs/architecture.md, "Radio: fallback")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from urllib.parse import urlsplit

from diaspor.demo_content import tune
from diaspor.radio import channel_mounts
from media.process import end_process, run_tool
from station.errors import StationError
from station.logs import redact
from station.settings import Settings
from streamer.fallback_source import fallback_mount, loop_source_args
from streamer.icecast_admin import IcecastAdminError, listeners_on, update_title
from streamer.outputs import IcecastOutput

log = logging.getLogger(__name__)

# A 30 s bed whose every tone completes whole cycles in 30 s, so it loops without a click:
# the demo's filler tune (tremolo 3 Hz, notes stepping twice a second over 12 semitones).
DEFAULT_LOOP_S = 30
DEFAULT_BED = tune(130.8, 1, DEFAULT_LOOP_S)


def default_loop_args(ffmpeg: str, dest: Path, title: str) -> list[str]:
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        DEFAULT_BED,
        "-metadata",
        f"title={title}",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "192k",
        str(dest),
    ]


async def make_default_loop(ffmpeg: str, dest: Path, title: str) -> None:
    """Render the default bed to `dest` (a temporary name first: a feeder never reads half)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part{dest.suffix}")
    res = await run_tool(default_loop_args(ffmpeg, tmp, title))
    if not res.ok:
        tmp.unlink(missing_ok=True)
        raise StationError(f"could not render the fallback loop {dest}: {res.last_error_line()}")
    tmp.replace(dest)


def fallback_outputs(s: Settings, slug: str, title: str) -> list[IcecastOutput]:
    """The fallback of each of the channel's mounts, encoded as that mount is."""
    if s.source_password is None:
        raise StationError("DIASPOR_SOURCE_PASSWORD is needed to feed icecast2's fallback mounts")
    u = urlsplit(s.icecast_url)
    return [
        IcecastOutput(
            fallback_mount(m.path),
            s.source_password.get_secret_value(),
            host=u.hostname or "127.0.0.1",
            port=u.port or 80,
            codec=m.codec,
            bitrate_kbps=m.bitrate_kbps,
            # No URL of its own, as playout's outputs: the mount's <stream-url> is the
            # station's site (a relay keeps the headers of the stream it first connected to).
            name=title,
        )
        for m in channel_mounts(s, slug)
    ]


async def set_titles(s: Settings, outputs: list[IcecastOutput], title: str) -> None:
    """The fallback's title on each mount once its source is on (icecast2 refuses it before):
    a listener moved there reads the station's name, not the last song's."""
    assert s.source_password is not None
    for out in outputs:
        while True:
            try:
                await update_title(
                    s.icecast_url, out.mount, title, "source", s.source_password.get_secret_value()
                )
                break
            except IcecastAdminError as exc:
                why = str(exc)
                log.debug("fallback title not taken yet", extra={"mount": out.mount, "why": why})
                await asyncio.sleep(0.5)


async def feed(
    s: Settings, ffmpeg: str, slug: str, loop: Path, title: str, stop: asyncio.Event
) -> int:
    """Feed every fallback mount of `slug` from `loop` until `stop`; returns ffmpeg's exit
    code when it ends first (icecast2 away or refusing), for compose to start us again."""
    if not loop.is_file():
        log.info("no fallback loop given; rendering the default bed", extra={"loop": str(loop)})
        await make_default_loop(ffmpeg, loop, title)
    outputs = fallback_outputs(s, slug, title)
    proc = await asyncio.create_subprocess_exec(
        *loop_source_args(ffmpeg, str(loop), outputs),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    log.info(
        "fallback loop on air",
        extra={"pid": proc.pid, "loop": str(loop), "mounts": [o.mount for o in outputs]},
    )

    async def say() -> None:
        assert proc.stderr is not None
        async for line in proc.stderr:
            if text := redact(line.decode("utf-8", "replace").strip()):
                log.warning("fallback loop says: %s", text, extra={"pid": proc.pid})

    saying = asyncio.create_task(say())
    titling = asyncio.create_task(set_titles(s, outputs, title))
    stopping = asyncio.create_task(stop.wait())
    ending = asyncio.create_task(proc.wait())
    try:
        await asyncio.wait([stopping, ending], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (titling, stopping):
            task.cancel()
        code = await end_process(proc, ask="terminate")
        with contextlib.suppress(asyncio.CancelledError):
            await titling
        await saying
        ending.cancel()
    if stop.is_set():
        return 0
    log.error("the fallback loop stopped", extra={"pid": proc.pid, "exit": code})
    return code or 1


async def missing_fallbacks(s: Settings, slug: str) -> list[str]:
    """The channel's fallback mounts that icecast2 does not carry now (a fallback mount has no
    fallback of its own, so it is listed only while its source is on)."""
    missing = []
    for out in fallback_outputs(s, slug, ""):
        if await listeners_on(s.icecast_url, {out.mount}) is None:
            missing.append(out.mount)
    return missing
