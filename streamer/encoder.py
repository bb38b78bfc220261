"""The station's encoder: one long-running ffmpeg reading the mixer's PCM on stdin and
writing every output at once (Icecast mounts, HLS audio, files).

`encoder_args` is pure; `Encoder` runs it and restarts it if it dies: at once when it was
killed by a signal or had run well (the relay holds its listeners for a few seconds), by the
station's back-off policy when it keeps exiting by itself (as it does while icecast2 is
away). A slow or dead encoder never blocks the mixer: PCM written while it is down is
dropped, not queued.

HLS segments are served as never changing (players and caches keep them), so a name is never
used twice: each start of the encoder names its segments `seg-<start>-<n>.ts`, `<start>` the
start's time in epoch milliseconds, where ffmpeg alone would count from `seg-000000.ts` again
and a cache would hand out the audio of the run before. What earlier runs left is removed
when a new one starts, all but the latest run's (its playlist names them until the new run
writes its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from media.process import end_process
from station.backoff import Attempts, Backoff
from station.logs import redact
from streamer.outputs import LAME_QUALITY, IcecastOutput, aac_options

log = logging.getLogger(__name__)


PLAYLIST_NAME = "index.m3u8"
BYTES_PER_MS = 48 * 2 * 2  # the PCM on stdin: 48 kHz, stereo, 16-bit


@dataclass(frozen=True, slots=True)
class HlsOutput:
    folder: Path
    segment_s: int = 6
    window: int = 10
    bitrate_k: int = 128
    playlist: str = PLAYLIST_NAME  # streamer.hls_dates.ENCODER_PLAYLIST when it is redated
    # Its segments' names begin with this: each rung of a ladder in one folder has its own
    # (streamer/hls_ladder.py).
    segment_prefix: str = "seg"


@dataclass(frozen=True, slots=True)
class FileOutput:
    path: Path
    codec: str = "flac"  # flac | pcm_s16le | libmp3lame | aac
    bitrate_kbps: int | None = None  # for the lossy codecs; None: the codec's default


Output = IcecastOutput | HlsOutput | FileOutput

# A first failure after a good run is retried at once (the relay holds listeners for a few
# seconds); repeated ones wait 1, 2, 4 … 30 s (icecast2 away).
ENCODER_RETRY = Backoff(base_s=1.0, max_s=30.0, stable_s=10.0)

CODECS = {"mp3": ("libmp3lame", "mp3", "audio/mpeg"), "aac": ("aac", "adts", "audio/aac")}
# A run's segment (`seg-<start>-<n>.ts`, `seg64-<start>-<n>.ts` for a lower rung of the
# ladder), or one from before runs were named (`seg-<n>.ts`).
_SEGMENT = re.compile(r"^seg\d*-(?:(\d+)-)?\d+\.ts(?:\.tmp)?$")


def codec_options(codec: str, bitrate_kbps: int | None) -> tuple[str, ...]:
    """What a codec is told beyond its bit rate (see streamer/outputs.py for why): LAME at
    the quality Liquidsoap uses too (ffmpeg's own default is a cheaper, worse 5), AAC's fast
    coder and its band limit for the bit rate."""
    if codec == "libmp3lame":
        return ("-compression_level", str(LAME_QUALITY))
    if codec == "aac":
        pairs = aac_options(bitrate_kbps)
        return tuple(arg for name, value in pairs for arg in (f"-{name}", value))
    return ()


def segment_pattern(start_ms: int, prefix: str = "seg") -> str:
    """ffmpeg's segment file name pattern for the encoder run started at `start_ms`."""
    return f"{prefix}-{start_ms}-%06d.ts"


def leftover_segments(names: Iterable[str]) -> list[str]:
    """The segment files among `names` that no playlist will name again: those of every run
    but the latest."""
    runs: dict[int, list[str]] = {}
    for name in names:
        found = _SEGMENT.match(name)
        if found:
            runs.setdefault(int(found.group(1) or 0), []).append(name)
    latest = max(runs, default=0)
    return sorted(name for run, kept in runs.items() if run != latest for name in kept)


def icecast_output_args(out: IcecastOutput) -> list[str]:
    """ffmpeg's output options for one mount: the codec and its options at the mount's bit
    rate, the stream's name and the like, and the icecast:// URL (its password inside)."""
    codec, fmt, ctype = CODECS[out.codec]
    auth = f"{quote(out.user, safe='')}:{quote(out.password, safe='')}"
    return [
        "-c:a",
        codec,
        *codec_options(codec, out.bitrate_kbps),
        "-b:a",
        f"{out.bitrate_kbps}k",
        "-content_type",
        ctype,
        "-ice_name",
        out.name,
        "-ice_description",
        out.description,
        "-ice_genre",
        out.genre,
        "-ice_url",
        out.url,
        "-f",
        fmt,
        f"icecast://{auth}@{out.host}:{out.port}{out.mount}",
    ]


def encoder_args(ffmpeg: str, outputs: list[Output], *, start_ms: int) -> list[str]:
    """One ffmpeg: 16-bit stereo PCM at 48 kHz on stdin, every output encoded from it.
    `start_ms` names this run's HLS segments (see `segment_pattern`)."""
    args = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-v",
        "warning",
        "-f",
        "s16le",
        "-ar",
        "48000",
        "-ac",
        "2",
        "-i",
        "pipe:0",
    ]
    for out in outputs:
        args += ["-map", "0:a"]
        if isinstance(out, IcecastOutput):
            args += icecast_output_args(out)
        elif isinstance(out, HlsOutput):
            out.folder.mkdir(parents=True, exist_ok=True)
            args += [
                "-c:a",
                "aac",
                *codec_options("aac", out.bitrate_k),
                "-b:a",
                f"{out.bitrate_k}k",
                "-f",
                "hls",
                "-hls_time",
                str(out.segment_s),
                "-hls_list_size",
                str(out.window),
                "-hls_flags",
                "delete_segments+temp_file+omit_endlist+program_date_time",
                "-hls_segment_type",
                "mpegts",
                "-hls_segment_filename",
                str(out.folder / segment_pattern(start_ms, out.segment_prefix)),
                str(out.folder / out.playlist),
            ]
        else:
            args += ["-c:a", out.codec, *codec_options(out.codec, out.bitrate_kbps)]
            if out.bitrate_kbps:
                args += ["-b:a", f"{out.bitrate_kbps}k"]
            args += ["-y", str(out.path)]
    return args


class Encoder:
    """Runs encoder_args; a PcmSink for the engine."""

    def __init__(
        self,
        ffmpeg: str,
        outputs: list[Output],
        *,
        restart: bool = True,
        policy: Backoff = ENCODER_RETRY,
        on_trouble: Callable[[str], None] | None = None,
        on_air_ms: Callable[[], int] | None = None,
    ) -> None:
        self.ffmpeg = ffmpeg
        # The on-air time (epoch ms) of the first sample of the PCM being written, from the
        # engine: a run is named by its first sample's, so its HLS can be dated by the air
        # (streamer/hls_dates.py).
        self.on_air_ms = on_air_ms
        self.outputs = list(outputs)
        self.args: list[str] = []  # the running ffmpeg's, once started
        self._start_ms = 0
        self.restart = restart
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self.dropped_bytes = 0
        self.attempts = Attempts(policy)
        self._retry_at = 0.0
        self._stderr: asyncio.Task[None] | None = None
        self._closing = False
        self.on_trouble = on_trouble  # told of each stop, in words (for health)

    async def start(self, skip_bytes: int = 0) -> None:
        """Start ffmpeg; its first PCM comes `skip_bytes` after what is being written."""
        if self.on_air_ms is not None:
            now = self.on_air_ms() + skip_bytes // BYTES_PER_MS
        else:
            now = time.time_ns() // 1_000_000
        # Later than any earlier start, even if the wall clock stepped back since.
        self._start_ms = max(now, self._start_ms + 1)
        self.args = encoder_args(self.ffmpeg, self.outputs, start_ms=self._start_ms)
        for out in self.outputs:
            if isinstance(out, HlsOutput):
                _remove_leftovers(out.folder)
        self.proc = await asyncio.create_subprocess_exec(
            *self.args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._stderr = asyncio.ensure_future(self._log_stderr(self.proc))
        self.attempts.started()
        log.info("encoder started", extra={"pid": self.proc.pid})

    async def _log_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        async for line in proc.stderr:
            # ffmpeg names its outputs in full, an icecast:// URL's password included.
            text = redact(line.decode("utf-8", "replace").strip())
            if text:
                log.warning("encoder says: %s", text, extra={"pid": proc.pid, "line": text})

    async def write(self, data: bytes) -> None:
        if self.proc is None:
            await self.start()
        assert self.proc is not None and self.proc.stdin is not None
        if self.proc.returncode is not None:
            await self._recover(len(data))
            self.dropped_bytes += len(data)
            return
        try:
            self.proc.stdin.write(data)
            await asyncio.wait_for(self.proc.stdin.drain(), timeout=2.0)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.dropped_bytes += len(data)
            await self._recover(len(data))

    async def _recover(self, dropping: int) -> None:
        """Tell the failures apart: an encoder killed by a signal (the OOM killer, an
        operator) is started again at once, however often it happens; one that exits by
        itself (the streaming server refused or is away) waits by the back-off policy."""
        if self._closing or not self.restart:
            return
        now = time.monotonic()
        if now < self._retry_at:
            return  # backing off: this PCM is dropped
        old = self.proc
        code = old.returncode if old is not None else None
        if old is not None and code is None:  # stuck: it would not take our PCM
            await end_process(old)
        if self._retry_at == 0.0:  # it has just died: decide when to start it again
            killed = code is not None and code < 0
            if self.on_trouble is not None:
                how = f"killed by signal {-code}" if killed and code else f"exit {code}"
                self.on_trouble(f"encoder stopped ({how}); restarted")
            wait = 0.0 if killed else self.attempts.failed()
            if wait:
                self._retry_at = now + wait
                log.error(
                    "encoder keeps stopping (is the streaming server reachable?); "
                    "retrying after a pause",
                    extra={"retry_in_s": wait, "exit": code},
                )
                return
        self._retry_at = 0.0
        self.restarts += 1
        log.error("encoder stopped; restarting it", extra={"restarts": self.restarts, "exit": code})
        await self.start(skip_bytes=dropping)  # what is being written now is dropped

    async def close(self) -> None:
        self._closing = True
        if self.proc is None:
            return
        await end_process(self.proc, ask="eof", grace_s=10)
        if self._stderr is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._stderr


def _remove_leftovers(folder: Path) -> None:
    """Delete what earlier runs left in an HLS folder (see `leftover_segments`)."""
    for name in leftover_segments(os.listdir(folder)):
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()


class Tee:
    """Several sinks fed the same PCM: encoders that must fail apart (icecast2 away must
    not stop the HLS output)."""

    def __init__(self, *sinks: Encoder) -> None:
        self.sinks = sinks

    async def write(self, data: bytes) -> None:
        for sink in self.sinks:
            await sink.write(data)

    async def close(self) -> None:
        for sink in self.sinks:
            await sink.close()
