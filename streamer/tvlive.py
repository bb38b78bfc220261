"""A TV channel's live input: one long-running ffmpeg that listens for a studio's stream (RTMP
or SRT) and transcodes it, in real time, into the channel's HLS ladder, segment by segment,
into storage beside the packaged assets, where the sequencer splices it into the channel.

The ladder is packaging's (`media/ladder.py`): the same rung names, sizes, bit rates,
x264 settings, frame rate, GOP = segment target with keyframes forced on the frame count, the
same AAC-LC 48 kHz stereo, and the audio-only rendition. So segment i of every rendition
starts on the same frame, and a live segment can be referenced exactly like an asset's:

    hls/live/<channel>/720p/seg-00042.ts       every rung, the same boundaries
    hls/live/<channel>/audio/seg-00042.ts      the audio-only rendition

The audio is levelled with a fixed gain (`gain_db`): there is no measurement to make ahead.

How a segment becomes available. ffmpeg's `hls` muxer writes each rendition into a work
folder (`-hls_flags temp_file`: a segment appears under its name only once it is whole, and
the media playlist after it). `collect` reads the media playlists: segment i is complete when
every rendition lists it. Its files then go into storage (a rename on local storage, an
upload on S3), and only after every rendition is there is it announced in `segments()`, with
its length in frames (from the first rung's EXTINF: the ladder is constant-frame-rate, so a
segment is a whole number of frames) and the instant it became available. The sequencer
reads nothing else. (`streamer/mirror.py` copies a flat HLS folder playlist-first; here each
segment must be in storage in every rendition before anyone is told, so the copy is done
segment by segment instead.)

Sessions. ffmpeg serves one sender at a time and exits when it goes away (or when its input
stalls: `-rw_timeout`, and a watchdog). Then it is started again to listen for the next one,
with `-start_number` after the last segment number ever used (storage is scanned once at
start), so a number never names two different segments, across reconnections and restarts.
A new session starts new timestamps: `LiveSegment.session` says which session a segment
belongs to, and the sequencer puts a discontinuity where it changes.

Who may send. SRT checks the passphrase itself (a caller with another one is rejected in the
handshake). ffmpeg's RTMP listener accepts any stream name and only warns ("Unexpected stream
X, expecting KEY"); the ingest reads ffmpeg's log and kills a session that published under
another name before a single segment of it is announced. The secret (stream key, passphrase)
is in ffmpeg's command line, never in our logs.

`is_arriving(now)`: a new segment within two target durations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from media.ladder import (
    AUDIO,
    SAMPLE_RATE,
    PackagingOptions,
    fit_filter,
    ladder_hls_args,
    ms_of,
)
from media.process import end_process
from media.storage import Storage
from station.backoff import Backoff
from station.clock import Clock, to_ms
from station.errors import StationError
from station.logs import redact

log = logging.getLogger(__name__)

Protocol = Literal["rtmp", "srt"]
PLAYLIST = "index.m3u8"
_SEGMENT = re.compile(r"^seg-(\d+)\.ts$")
_RTMP_KEY = re.compile(r"^[A-Za-z0-9_.~-]{8,128}$")
_RTMP_APP = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_WRONG_KEY = "Unexpected stream "  # ffmpeg's RTMP listener: another stream name was published
QUICK_EXIT_S = 5.0  # a session shorter than this that produced nothing counts as a failure
LIVE_RETRY = Backoff(base_s=1.0, first_s=0.5, max_s=30.0)  # a live input that stops at once


class LiveInputError(StationError):
    """The live input is misconfigured (a key ffmpeg cannot carry, a bad channel name)."""

    reason = "live-input"


def live_input_prefix(channel: str) -> str:
    """Where a channel's live segments are kept in storage."""
    return f"hls/live/{channel}"


@dataclass(frozen=True, slots=True)
class LiveInput:
    """Where ffmpeg listens, and the secret a sender must know.

    RTMP: senders publish to `rtmp://HOST:PORT/<app>/<secret>` (the secret is the stream key).
    SRT: senders call `srt://HOST:PORT` with `passphrase=<secret>` and send MPEG-TS. (ffmpeg
    reads URL options without percent-decoding, `+` as a space and `&` as the next option,
    so a passphrase a sender can put in its URL has neither.)"""

    protocol: Protocol
    host: str
    port: int
    secret: str
    app: str = "live"
    srt_latency_ms: int = 500  # SRT's receive buffer for retransmissions, over the internet

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise LiveInputError(f"live input port {self.port} is not a TCP/UDP port")
        if self.protocol == "rtmp":
            if not _RTMP_KEY.match(self.secret):
                raise LiveInputError(
                    "the RTMP stream key must be 8 to 128 letters, digits or _ . ~ -"
                )
            if not _RTMP_APP.match(self.app):
                raise LiveInputError(f"RTMP application {self.app!r} is not a simple name")
        elif not 10 <= len(self.secret) <= 79:
            raise LiveInputError("the SRT passphrase must be 10 to 79 characters long")
        elif any(c in self.secret for c in "&+#?") or not self.secret.isprintable():
            raise LiveInputError("the SRT passphrase cannot hold & + # ? or control characters")

    def listen_url(self, *, io_timeout_s: int) -> str:
        """The input URL ffmpeg listens on (SRT's passphrase goes beside it, as an option)."""
        if self.protocol == "rtmp":
            return f"rtmp://{self.host}:{self.port}/{self.app}/{self.secret}"
        return (
            f"srt://{self.host}:{self.port}?mode=listener"
            f"&latency={self.srt_latency_ms * 1000}&timeout={io_timeout_s * 1_000_000}"
        )

    def sender_url(self, host: str | None = None) -> str:
        """What a studio's encoder (OBS, vMix, ffmpeg) is configured with."""
        where = f"{host or self.host}:{self.port}"
        if self.protocol == "rtmp":
            return f"rtmp://{where}/{self.app}/{self.secret}"
        return f"srt://{where}?passphrase={self.secret}"

    def redact(self, text: str) -> str:
        """A log line without the secret (in any of the spellings ffmpeg may print), nor any
        other credential."""
        return redact(text, (self.secret, quote(self.secret, safe="")))


@dataclass(frozen=True, slots=True)
class LiveSegment:
    """One segment of the live input, in storage in every rendition."""

    index: int  # seg-NNNNN in every rendition's folder under the prefix
    frames: int  # video frames (the same in every rung)
    duration_ms: int  # rounded, for people; exact lengths come from `frames`
    session: int  # the sender's connection it came from (its first segment number)
    ready_ms: int  # when it was in storage in every rendition (epoch ms, the ingest's clock)


# --- pure parts: ffmpeg's arguments, its playlists ------------------------------------------


def rendition_names(opts: PackagingOptions) -> tuple[str, ...]:
    return (*(r.name for r in opts.ladder), AUDIO)


def live_args(
    ffmpeg: str,
    source: LiveInput,
    out: Path,
    opts: PackagingOptions,
    *,
    gain_db: float,
    start_number: int,
    list_size: int = 12,
    io_timeout_s: int = 10,
) -> list[str]:
    """The ffmpeg that listens for one sender and writes the ladder into `out/<rendition>/`.

    The same filter chain as packaging, without what only a file has (a known length, a
    poster): the picture made constant-frame-rate and letterboxed to each rung, the audio
    resampled to 48 kHz stereo with the fixed gain; every rung the same x264 settings and
    rates, keyframes forced every GOP by frame number, so the rungs cut alike."""
    n = len(opts.ladder)
    vsplit = "".join(f"[s{i}]" for i in range(n))
    asplit = f"asplit={n + 1}" + "".join(f"[a{i}]" for i in range(n + 1))
    graph = [
        f"[0:v:0]fps={opts.fps},setsar=1,format=yuv420p,split={n}{vsplit}",
        *(f"[s{i}]{fit_filter(r.width, r.height)}[v{i}]" for i, r in enumerate(opts.ladder)),
        f"[0:a:0]aresample={SAMPLE_RATE}:async=1,"
        f"aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=stereo,"
        f"volume={gain_db:.2f}dB,{asplit}",
    ]
    encode, streams = ladder_hls_args(opts)
    # A second of probing is plenty for H.264 and AAC (ffmpeg's default, 5 s, would delay
    # the first segment of an MPEG-TS input by as much).
    listen = ["-analyzeduration", "1000000"]
    if source.protocol == "rtmp":
        listen += ["-rw_timeout", str(io_timeout_s * 1_000_000), "-listen", "1", "-f", "flv"]
    else:  # the passphrase as an option: taken verbatim, whatever its characters
        listen += ["-f", "mpegts", "-passphrase", source.secret]
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-v",
        "warning",
        "-y",
        *listen,
        "-i",
        source.listen_url(io_timeout_s=io_timeout_s),
        "-filter_complex",
        ";".join(graph),
        *encode,
        "-hls_list_size",
        str(list_size),
        "-hls_flags",
        "temp_file",
        "-hls_segment_type",
        "mpegts",
        "-start_number",
        str(start_number),
        "-hls_segment_filename",
        str(out / "%v" / "seg-%05d.ts"),
        "-var_stream_map",
        streams,
        str(out / "%v" / PLAYLIST),
    ]


def segment_index(name: str) -> int | None:
    m = _SEGMENT.match(name)
    return int(m[1]) if m else None


def playlist_entries(text: str) -> dict[int, Decimal]:
    """Segment number -> EXTINF seconds, from one of ffmpeg's media playlists."""
    out: dict[int, Decimal] = {}
    extinf: Decimal | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXTINF:"):
            try:
                extinf = Decimal(line[8:].split(",", 1)[0])
            except InvalidOperation:
                extinf = None
        elif line and not line.startswith("#"):
            index = segment_index(line.rsplit("/", 1)[-1])
            if index is not None and extinf is not None:
                out[index] = extinf
            extinf = None
    return out


def complete_segments(
    playlists: Mapping[str, str], names: Sequence[str], fps: int, *, after: int
) -> list[tuple[int, int]]:
    """(segment number, frames) of the segments every rendition lists, numbered after
    `after`, in order. Frames come from the first rendition (a rung: video)."""
    entries = [playlist_entries(playlists.get(n, "")) for n in names]
    common = set(entries[0]).intersection(*entries[1:])
    out = []
    for index in sorted(i for i in common if i > after):
        frames = int((entries[0][index] * fps).to_integral_value())
        if frames > 0:
            out.append((index, frames))
    return out


def input_protocols(banner: str) -> set[str]:
    """The input protocols `ffmpeg -protocols` lists."""
    found: set[str] = set()
    section = ""
    for raw in banner.splitlines():
        line = raw.strip()
        if line.endswith(":"):
            section = line[:-1].lower()
        elif section == "input" and line:
            found.add(line)
    return found


async def has_protocol(ffmpeg: str, name: str) -> bool:
    """Whether this ffmpeg can read `name` (srt needs a build with libsrt)."""
    proc = await asyncio.create_subprocess_exec(
        ffmpeg,
        "-hide_banner",
        "-protocols",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await proc.communicate()
    return name in input_protocols(out.decode("utf-8", "replace"))


# --- the shell: the ffmpeg, the folder, storage --------------------------------------------


@dataclass
class _Session:
    first: int  # its -start_number: its name
    started: float  # monotonic
    rejected: bool = False
    produced: int = 0
    last_ready: float = 0.0  # monotonic, when its last segment was announced
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=8))


class TvLiveIngest:
    """A channel's live input, from the first sender to `stop`.

    `run(stop)` listens, transcodes and restarts; `segments()` and `is_arriving()` are what the
    sequencer reads (from another thread: they only read an immutable tuple)."""

    def __init__(
        self,
        channel: str,
        ffmpeg: str,
        storage: Storage,
        source: LiveInput,
        options: PackagingOptions,
        work_dir: Path,
        clock: Clock,
        *,
        gain_db: float = 0.0,
        keep: int = 60,
        poll_s: float = 0.25,
        io_timeout_s: int | None = None,
    ) -> None:
        if not _SLUG.match(channel):
            raise LiveInputError(f"{channel!r} is not a channel slug")
        if keep < 3:
            raise LiveInputError("keep at least three live segments in storage")
        self.channel = channel
        self.ffmpeg = ffmpeg
        self.storage = storage
        self.source = source
        self.options = options
        self.work = work_dir / channel
        self.clock = clock
        self.gain_db = gain_db
        self.keep = keep  # segments left in storage; older ones are deleted
        self.poll_s = poll_s
        self.io_timeout_s = io_timeout_s or 2 * options.segment_s
        self.prefix = live_input_prefix(channel)
        self.renditions = rendition_names(options)
        self.fps = options.fps
        self.segment_ms = options.segment_s * 1000
        self.sessions = 0  # ffmpeg runs so far
        self.rejected = 0  # senders turned away (RTMP: wrong stream key)
        self._segments: tuple[LiveSegment, ...] = ()
        self._stored: deque[int] = deque()  # segment numbers in storage, oldest first
        self._last = -1  # the last segment number announced
        self._proc: asyncio.subprocess.Process | None = None
        self._uploaded: dict[int, set[str]] = {}  # renditions of a segment already stored

    # --- what the sequencer reads ---------------------------------------------------------

    def segments(self) -> tuple[LiveSegment, ...]:
        """Complete segments still in storage, oldest first."""
        return self._segments

    def is_arriving(self, now_ms: int, within_ms: int | None = None) -> bool:
        """A new segment within `within_ms` (two target durations): a stream is coming in."""
        segs = self._segments
        window = within_ms if within_ms is not None else 2 * self.segment_ms
        return bool(segs) and segs[-1].ready_ms >= now_ms - window

    @property
    def listening(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def key(self, rendition: str, index: int) -> str:
        return f"{self.prefix}/{rendition}/seg-{index:05d}.ts"

    # --- running --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Listen, transcode, and listen again, until `stop` is set."""
        await asyncio.to_thread(self._prepare)
        failures = 0
        log.info(
            "live input listening",
            extra={
                "channel": self.channel,
                "protocol": self.source.protocol,
                "port": self.source.port,
                "renditions": list(self.renditions),
            },
        )
        try:
            while not stop.is_set():
                sess = await self._session(stop)
                if stop.is_set():
                    break
                if sess.rejected:  # not ffmpeg's failure: listen again at once
                    failures = 0
                    continue
                quick = self.clock.monotonic() - sess.started < QUICK_EXIT_S
                failures = failures + 1 if quick and not sess.produced else 0
                if failures:
                    pause = LIVE_RETRY.delay(failures)
                    log.warning(
                        "live input ffmpeg stopped at once; listening again after a pause",
                        extra={
                            "channel": self.channel,
                            "pause_s": pause,
                            "ffmpeg": " | ".join(sess.lines),
                        },
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), pause)
        finally:
            await asyncio.to_thread(self._clear_work)

    async def _session(self, stop: asyncio.Event) -> _Session:
        sess = _Session(first=self._last + 1, started=self.clock.monotonic())
        await asyncio.to_thread(self._clear_work)
        args = live_args(
            self.ffmpeg,
            self.source,
            self.work,
            self.options,
            gain_db=self.gain_db,
            start_number=sess.first,
            io_timeout_s=self.io_timeout_s,
        )
        proc = self._proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self.sessions += 1
        reader = asyncio.ensure_future(self._read_log(proc, sess))
        exited = asyncio.ensure_future(proc.wait())
        stopped = asyncio.ensure_future(stop.wait())
        stall_s = 3 * self.options.segment_s
        try:
            while not exited.done() and not stopped.done():
                await asyncio.wait(
                    {exited, stopped}, timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED
                )
                if sess.rejected:
                    break
                await self._collect(sess)
                idle = self.clock.monotonic() - sess.last_ready
                if sess.produced and idle > stall_s and proc.returncode is None:
                    log.warning(
                        "live input stalled: restarting its ffmpeg",
                        extra={"channel": self.channel, "idle_s": round(idle, 1)},
                    )
                    break
        finally:
            await self._end(proc, graceful=not sess.rejected and stopped.done())
            stopped.cancel()
            exited.cancel()
            await reader  # ends with ffmpeg's stderr
            self._proc = None
        if not sess.rejected:
            await self._collect(sess)  # what ffmpeg flushed on its way out
        if sess.produced:
            log.info(
                "live input ended",
                extra={
                    "channel": self.channel,
                    "session": sess.first,
                    "segments": sess.produced,
                    "ffmpeg": " | ".join(sess.lines),
                },
            )
        return sess

    async def _end(self, proc: asyncio.subprocess.Process, *, graceful: bool) -> None:
        """Stop ffmpeg (asked nicely when the station stops, so it closes its last segment)
        and always reap it."""
        await end_process(proc, ask="terminate" if graceful else "kill")

    async def _read_log(self, proc: asyncio.subprocess.Process, sess: _Session) -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = self.source.redact(raw.decode("utf-8", "replace").strip())
            if not line:
                continue
            sess.lines.append(line)
            if _WRONG_KEY in line and not sess.rejected:
                sess.rejected = True
                self.rejected += 1
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                log.warning(
                    "live input refused: a sender used the wrong stream key",
                    extra={"channel": self.channel},
                )
            elif "matches no streams" in line:
                log.error(
                    "live input refused: the ladder needs both picture and sound",
                    extra={"channel": self.channel, "ffmpeg": line},
                )
            else:
                log.debug("live input ffmpeg: %s", line, extra={"channel": self.channel})

    async def _collect(self, sess: _Session) -> None:
        new = await asyncio.to_thread(self._collect_sync, sess)
        if not new:
            return
        if not sess.produced:
            log.info(
                "live input receiving",
                extra={"channel": self.channel, "session": sess.first},
            )
        sess.produced += len(new)
        sess.last_ready = self.clock.monotonic()
        kept = self._segments + tuple(new)
        self._segments = kept[-self.keep :]

    def _collect_sync(self, sess: _Session) -> list[LiveSegment]:
        """Move the segments every rendition has finished into storage, oldest first."""
        texts: dict[str, str] = {}
        for name in self.renditions:
            try:
                texts[name] = (self.work / name / PLAYLIST).read_text(encoding="utf-8")
            except FileNotFoundError:
                return []
        ready = complete_segments(texts, self.renditions, self.fps, after=self._last)
        out: list[LiveSegment] = []
        for index, frames in ready:
            if index < sess.first:
                continue
            done = self._uploaded.setdefault(index, set())
            try:
                for name in self.renditions:
                    if name not in done:
                        src = self.work / name / f"seg-{index:05d}.ts"
                        self.storage.put_file(self.key(name, index), src, move=True)
                        done.add(name)
            except FileNotFoundError:  # ffmpeg listed it, and it is gone: never announced
                log.error(
                    "live segment vanished before it was stored",
                    extra={"channel": self.channel, "segment": index},
                )
                del self._uploaded[index]
                self._last = index
                continue
            except (OSError, StationError) as exc:  # storage briefly away: the next poll retries
                log.warning(
                    "live segment not stored yet; retrying",
                    extra={"channel": self.channel, "segment": index, "error": str(exc)},
                )
                break
            del self._uploaded[index]
            self._last = index
            self._stored.append(index)
            ready_ms = to_ms(self.clock.now())
            out.append(LiveSegment(index, frames, ms_of(frames, self.fps), sess.first, ready_ms))
        self._forget_old()
        return out

    def _forget_old(self) -> None:
        while len(self._stored) > self.keep:
            old = self._stored.popleft()
            for name in self.renditions:
                try:
                    self.storage.delete(self.key(name, old))
                except (OSError, StationError) as exc:
                    log.warning(
                        "old live segment not deleted",
                        extra={"channel": self.channel, "segment": old, "error": str(exc)},
                    )

    def _prepare(self) -> None:
        """Number after every segment already in storage (an earlier run's), and count those
        among what is kept."""
        found: set[int] = set()
        for key in self.storage.keys(self.prefix + "/"):
            index = segment_index(key.rsplit("/", 1)[-1])
            if index is not None:
                found.add(index)
        if found:
            self._last = max(self._last, max(found))
            self._stored = deque(sorted(found))
            self._forget_old()
        self.work.mkdir(parents=True, exist_ok=True)

    def _clear_work(self) -> None:
        """ffmpeg's folder emptied between sessions: an unfinished segment, old playlists."""
        shutil.rmtree(self.work, ignore_errors=True)
        for name in self.renditions:
            (self.work / name).mkdir(parents=True, exist_ok=True)
        self._uploaded.clear()
