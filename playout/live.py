"""Going live: who may, when, and the presenter's stream decoded into the engine's line.

A presenter connects a source client (BUTT, Mixxx, ffmpeg) to the channel's live mount,
`/<slug>-live`, on the built-in relay or on icecast2, with their username and their stream key
(`accounts/stream_keys.py`; never their account password). `LiveDesk` says yes only inside a
slot of a programme they present on that channel, widened by a margin; admins and editors
may go live at any time (an emergency takeover). Attempts are throttled per address and per
username, and every refusal looks the same to the source: the reason is in the log only.
Each grant is recorded (`playout/live_grants.py`) so that the live feed can hold the slot's
end on any server.

`LiveFeed` listens to that mount like any player would, decodes it with ffmpeg to the
engine's PCM format, levels it toward the channel's loudness target (`LiveGain`), and hands
it to the engine block by block. When the presenter's audio stops, the feed holds for a grace
period (a dropped connection often comes straight back) and then lets the schedule resume,
at the point the schedule has reached by then. Given the channel's grants, it airs a source
only under a grant, and at the grant's end goes off air and has the source removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from accounts.stream_keys import StreamKeys
from accounts.throttle import LoginThrottle, Throttled
from accounts.users import User
from media.containers import input_args
from media.process import end_process
from playout.live_grants import Granted, LiveGrants
from playout.mixer import CHANNELS, RATE, SAMPLES_PER_MS, Block, silence
from schedules.guide import pick
from schedules.plan import from_ms, to_ms
from schedules.service import Schedules
from station.clock import Clock, SystemClock
from station.errors import StationError
from station.logs import redact

log = logging.getLogger(__name__)
# How far ahead the end of a slot without a set length (an episode's or a playlist's own
# length) is looked for; a longer one is granted this long, and its presenter comes back in.
SLOT_LOOKAHEAD_MS = 6 * 3600 * 1000
BURST_SETTLE_S = 0.3  # audio still arriving this long after the first bytes is live


def live_mount(channel: str) -> str:
    return f"/{channel}-live"


class LiveRefused(StationError):
    """Not let onto the live mount; `reason` says why, for the log. A source client is told
    only REFUSED, the same for every reason, so a refusal gives nothing away."""

    reason = "live-refused"


REFUSED = "refused"  # all a source client is told, whatever the reason


@dataclass(frozen=True, slots=True)
class LiveGrant:
    channel: str
    user: User
    until_ms: int | None  # the end of their slot plus the margin; None: no limit


@dataclass(frozen=True, slots=True)
class PresenterSlot:
    """A programme's slot on a channel, and who presents it (as the programme names them)."""

    channel: str
    programme: str  # its slug
    titles: Mapping[str, str]
    start_ms: int
    end_ms: int
    presenters: tuple[str, ...]


def presents(user: User, presenters: Sequence[str]) -> bool:
    """A programme names its presenters by username or by the name they go by."""
    return user.username in presenters or user.display_name in presenters


class LiveDesk:
    """Decides who may go live on a channel, and when; records each grant it gives."""

    def __init__(
        self,
        schedules: Schedules,
        keys: StreamKeys,
        grants: LiveGrants,
        clock: Clock,
        margin_s: int,
        throttle: LoginThrottle,
    ) -> None:
        self.schedules = schedules
        self.keys = keys
        self.grants = grants
        self.clock = clock
        self.margin_ms = margin_s * 1000
        self.throttle = throttle

    def live_mounts(self) -> dict[str, str]:
        """Each channel's live mount, and the channel it belongs to."""
        return {live_mount(c.data["slug"]): c.data["slug"] for c in self.schedules.find("channel")}

    def _presented(self, channel: str, now_ms: int) -> list[tuple[int, int, list[str], str]]:
        """Programme slots on air within the margin of now: (start, end, presenters, title).

        The guide is read around now only, so its blocks hold just the items near now."""
        m = self.margin_ms
        return [
            (slot.start_ms, slot.end_ms, list(slot.presenters), pick(slot.titles, "az"))
            for slot in self._slots(channel, now_ms - m - 1, now_ms + m + 1)
            if slot.start_ms - m <= now_ms <= slot.end_ms + m
        ]

    def _slots(self, channel: str, lo_ms: int, hi_ms: int) -> list[PresenterSlot]:
        """The programme slots the guide shows over [lo, hi). A slot's bounds are its planned
        ones (the block's planned start plus its entry's duration), or the block's if it runs
        later."""
        blocks = self.schedules.guide(channel, from_ms(lo_ms), from_ms(hi_ms))
        found = []
        for b in blocks:
            if b.programme_id is None or b.entry_id is None:
                continue
            planned = b.items[0].block_ms if b.items else None
            start = b.start_ms if planned is None else planned
            duration = self.schedules.get("entry", b.entry_id).data["duration_ms"]
            if duration is not None:
                end = max(b.end_ms, start + int(duration))
            else:  # as long as what it plays: where the guide ends the same block
                end = self._block_end(channel, b.entry_id, start, b.end_ms)
            programme = self.schedules.get("programme", b.programme_id).data
            found.append(
                PresenterSlot(
                    channel,
                    programme["slug"],
                    b.titles,
                    start,
                    end,
                    tuple(programme["presenters"]),
                )
            )
        return found

    def slots_of(self, user: User, days: int) -> list[PresenterSlot]:
        """The slots `user` presents, on every channel, from now (one under way included)
        for `days` days, in time order: the same slots `authorise` lets them go live in."""
        now = to_ms(self.clock.now())
        hi = now + days * 86_400_000
        mine = [
            slot
            for c in self.schedules.find("channel")
            for slot in self._slots(c.data["slug"], now, hi)
            if slot.end_ms > now and presents(user, slot.presenters)
        ]
        return sorted(mine, key=lambda s: (s.start_ms, s.channel))

    def _block_end(self, channel: str, entry_id: int, start_ms: int, seen_end_ms: int) -> int:
        ahead = self.schedules.guide(
            channel, from_ms(seen_end_ms), from_ms(seen_end_ms + SLOT_LOOKAHEAD_MS)
        )
        ends = [
            b.end_ms
            for b in ahead
            if b.entry_id == entry_id and b.items and b.items[0].block_ms == start_ms
        ]
        return max([seen_end_ms, *ends])

    def authorise(self, channel: str, username: str, key: str, address: str) -> LiveGrant:
        """A grant for this presenter now, recorded, or LiveRefused saying why (for the log).

        The attempt is counted against the address and the username before the key is
        looked up; a good key gives its count back."""
        try:
            attempt = self.throttle.reserve(username, address)
        except Throttled as e:
            raise LiveRefused(e.message, reason="throttled") from None
        try:
            user = self.keys.verify(username, key)
        except BaseException:
            self.throttle.release(attempt)  # not the source's failure: the check did not happen
            raise
        if user is None:
            raise LiveRefused("wrong username or stream key", reason="bad-credentials")
        self.throttle.succeeded(attempt)
        self.schedules.channel(channel)  # NotFound for an unknown channel
        now = to_ms(self.clock.now())
        grant = self._grant(channel, user, now)
        self.grants.record(Granted(channel, user.username, grant.until_ms, now))
        return grant

    def _grant(self, channel: str, user: User, now: int) -> LiveGrant:
        if user.role in ("admin", "editor"):
            return LiveGrant(channel, user, None)
        for _start, end, presenters, _title in self._presented(channel, now):
            if presents(user, presenters):
                return LiveGrant(channel, user, end + self.margin_ms)
        raise LiveRefused(
            f"{user.display_name} has no slot on {channel} now (± {self.margin_ms // 1000} s)",
            reason="not-your-slot",
        )

    def presenters_now(self, channel: str) -> str:
        """Who presents what is on air now: for now-playing and the stream title."""
        now = to_ms(self.clock.now())
        for start, end, presenters, _title in self._presented(channel, now):
            if start <= now < end and presenters:
                return ", ".join(presenters)
        return ""


class LiveGain:
    """Levels live audio toward a loudness target, slowly, with a peak ceiling.

    Loudness is estimated as BS.1770 does without the K-weighting and gating (mean square
    over about three seconds, −0.691 dB): close for speech and music, and it needs no
    look-ahead, so it adds no delay. Silence does not move the gain.
    """

    def __init__(
        self,
        target_lufs: float,
        max_peak_dbfs: float,
        *,
        window_s: float = 3.0,
        max_boost_db: float = 20.0,
    ) -> None:
        self.target = target_lufs
        self.ceiling = 10 ** (max_peak_dbfs / 20)
        self.window = window_s * RATE
        self.max_boost_db = max_boost_db
        self.mean_square: float | None = None
        self.gain = 1.0

    def loudness(self) -> float | None:
        if not self.mean_square:
            return None
        return -0.691 + 10 * math.log10(self.mean_square)

    def apply(self, block: Block) -> Block:
        n = len(block)
        if n == 0:
            return block
        ms = float(np.mean(np.sum(block.astype(np.float64) ** 2, axis=1)))
        if ms > 10 ** (-50 / 10):  # louder than −50 LUFS: music or speech, not a pause
            if self.mean_square is None:
                self.mean_square = ms
            else:
                a = 1 - math.exp(-n / self.window)
                self.mean_square += a * (ms - self.mean_square)
        level = self.loudness()
        want = self.gain
        if level is not None:
            db = max(-self.max_boost_db, min(self.max_boost_db, self.target - level))
            want = 10 ** (db / 20)
        peak = float(np.max(np.abs(block)))
        if peak * want > self.ceiling:
            want = self.ceiling / peak
        ramp = np.linspace(self.gain, want, n, dtype=np.float32)
        self.gain = want
        out: Block = block * ramp[:, None]
        return out


def decode_live_args(ffmpeg: str) -> list[str]:
    """ffmpeg reading a live stream on stdin and writing the engine's PCM, without delay."""
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-fflags",
        "nobuffer",
        "-probesize",
        "8192",
        "-analyzeduration",
        "0",
        *input_args("pipe:0"),
        "-map",
        "0:a:0",
        "-vn",
        "-af",
        f"aresample={RATE}",
        "-ac",
        str(CHANNELS),
        "-ar",
        str(RATE),
        "-flush_packets",
        "1",
        "-f",
        "f32le",
        "pipe:1",
    ]


class LiveFeed:
    """The presenter's stream, as the engine takes it: see the module docstring.

    `take(n)` returns n samples while the feed is live (padded with silence if the network
    is late, and during the grace period), or None when the schedule should play.
    """

    def __init__(
        self,
        ffmpeg: str,
        url: str,
        *,
        target_lufs: float = -16.0,
        max_peak_dbfs: float = -1.0,
        grace_ms: int = 3000,
        poll_s: float = 1.0,
        prebuffer_ms: int = 300,
        max_buffer_ms: int = 3000,
        identify: Callable[[], str] | None = None,
        grants: Callable[[], Granted | None] | None = None,
        evict: Callable[[], Awaitable[None]] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.ffmpeg = ffmpeg
        self.url = url
        self.shown_url = redact(url)  # as logs show it: without a password it may carry
        self.grace_s = grace_ms / 1000
        self.poll_s = poll_s
        self.prebuffer = prebuffer_ms * SAMPLES_PER_MS
        self.max_buffer = max_buffer_ms * SAMPLES_PER_MS
        self.identify = identify
        # With `grants`, a source airs only under the channel's latest grant and until its
        # end; `evict` then has the server drop the source (icecast2's killsource).
        self.grants = grants
        self.evict = evict
        self.clock = clock or SystemClock()
        self._granted: Granted | None = None  # the last grant read (kept if a read fails)
        self._off_air = False  # this source's time is up: what it still sends is dropped
        self.target_lufs = target_lufs
        self.max_peak_dbfs = max_peak_dbfs
        self.gain = LiveGain(target_lufs, max_peak_dbfs)
        self.presenter = ""
        self.sessions = 0
        self._chunks: list[Block] = []
        self._buffered = 0
        self._live = False
        self._last_audio = 0.0  # monotonic time of the last decoded samples
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # --- the engine's side -------------------------------------------------------------

    @property
    def live(self) -> bool:
        return self._live

    def take(self, n: int) -> Block | None:
        if not self._live:
            if self._buffered < self.prebuffer:
                return None
            self._live = True
            self.sessions += 1
            self.gain = LiveGain(self.target_lufs, self.max_peak_dbfs)
            self.presenter = self.identify() if self.identify else ""
            log.warning(
                "live: presenter on air", extra={"url": self.shown_url, "presenter": self.presenter}
            )
        if self._buffered == 0 and time.monotonic() - self._last_audio > self.grace_s:
            self._live = False
            log.warning(
                "live: the presenter's stream stopped; back to the schedule",
                extra={"url": self.shown_url, "grace_s": self.grace_s},
            )
            return None
        out = silence(n)
        filled = 0
        while filled < n and self._chunks:
            chunk = self._chunks[0]
            k = min(n - filled, len(chunk))
            out[filled : filled + k] = chunk[:k]
            filled += k
            if k == len(chunk):
                self._chunks.pop(0)
            else:
                self._chunks[0] = chunk[k:]
        self._buffered -= filled
        return self.gain.apply(out) if filled else out

    def _add(self, samples: Block) -> None:
        if self._off_air:
            return
        self._chunks.append(samples)
        self._buffered += len(samples)
        self._last_audio = time.monotonic()
        while self._buffered - len(self._chunks[0]) >= self.max_buffer:  # too far behind
            self._buffered -= len(self._chunks.pop(0))

    # --- listening ---------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever())

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until stop (a supervised part; `start`/`close` run it as a task)."""
        listening = asyncio.create_task(self._listen_forever())
        try:
            await stop.wait()
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening

    async def close(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen_forever(self) -> None:
        while not self._stopping:
            try:
                await self._listen_once()
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                log.debug(
                    "live mount not reachable",
                    extra={"url": self.shown_url, "error": redact(str(exc))},
                )
            await asyncio.sleep(self.poll_s)

    async def _listen_once(self) -> None:
        self._off_air = False
        u = urlsplit(self.url)
        reader, writer = await asyncio.open_connection(u.hostname, u.port or 80)
        proc: asyncio.subprocess.Process | None = None
        pump: asyncio.Task[None] | None = None
        try:
            writer.write(
                f"GET {u.path or '/'} HTTP/1.0\r\nHost: {u.netloc}\r\n"
                "User-Agent: diaspor-live/1\r\n\r\n".encode()
            )
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            status = head.split(b"\r\n", 1)[0].split()
            if len(status) < 2 or status[1] != b"200":
                return  # nobody on the live mount
            first = await self._fresh_audio(reader)
            if not first:
                return
            until_ms = await self._allowed_until()
            if until_ms is not None and until_ms <= to_ms(self.clock.now()):
                await self._time_up()
                return
            proc = await asyncio.create_subprocess_exec(
                *decode_live_args(self.ffmpeg),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            pump = asyncio.create_task(self._pump(proc))
            log.info("live: a source is on the live mount", extra={"url": self.shown_url})
            assert proc.stdin is not None
            proc.stdin.write(first)
            while True:
                # A source that stops sending for the grace period has gone, even if the
                # server still holds our connection open waiting for it to come back.
                try:
                    data = await asyncio.wait_for(reader.read(16384), timeout=self.grace_s)
                except TimeoutError:
                    break
                if not data:
                    break
                if until_ms is not None and to_ms(self.clock.now()) >= until_ms:
                    until_ms = await self._allowed_until()  # a new grant may have come
                    if until_ms is not None and to_ms(self.clock.now()) >= until_ms:
                        await self._time_up()
                        break
                proc.stdin.write(data)
                await proc.stdin.drain()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            if proc is not None:
                await end_process(proc, ask="eof")
            if pump is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await pump

    async def _allowed_until(self) -> int | None:
        """When the source on the mount must leave the air (epoch ms): now if there is no
        grant on record, None if it may stay (no grants kept, or an unlimited grant)."""
        if self.grants is None:
            return None
        try:
            self._granted = await asyncio.to_thread(self.grants)
        except Exception as exc:  # the database away: hold to the grant last read
            log.warning(
                "live: could not read the live grant; keeping the last one read",
                extra={"url": self.shown_url, "error": redact(str(exc))},
            )
        granted = self._granted
        if granted is None:
            return to_ms(self.clock.now())
        return granted.until_ms

    async def _time_up(self) -> None:
        """The source has no grant, or its slot (with the margin) is over: off the air now,
        and off the server."""
        granted = self._granted
        log.warning(
            "live: the presenter's time is up (the end of their slot); off air"
            if granted is not None
            else "live: a source on the live mount with no grant on record; not aired",
            extra={"url": self.shown_url, "presenter": granted.username if granted else ""},
        )
        self._off_air = True
        self._chunks.clear()
        self._buffered = 0
        self._last_audio = 0.0
        if self.evict is not None:
            try:
                await self.evict()
            except StationError as e:
                log.error(
                    "live: could not remove the source from the server",
                    extra={"url": self.shown_url, "why": e.message},
                )

    async def _fresh_audio(self, reader: asyncio.StreamReader) -> bytes:
        """What the server sent first, if a source is really sending now. A server sends a
        new listener its last seconds at once (the burst), and may hold a mount open for a
        while after its source has gone: only audio that keeps coming after the burst means
        a presenter is on air."""
        loop = asyncio.get_running_loop()
        got = bytearray()
        settle_at: float | None = None
        while True:
            try:
                data = await asyncio.wait_for(reader.read(16384), timeout=self.grace_s)
            except TimeoutError:
                return b""
            if not data:
                return b""
            now = loop.time()
            if settle_at is None:
                settle_at = now + BURST_SETTLE_S
            elif now >= settle_at:
                return bytes(got + data)
            got += data

    async def _pump(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        frame = 4 * CHANNELS
        rest = b""
        while True:
            data = await proc.stdout.read(65536)
            if not data:
                return
            data = rest + data
            cut = len(data) - len(data) % frame
            rest = data[cut:]
            if cut:
                block = np.frombuffer(data[:cut], dtype="<f4").reshape(-1, CHANNELS)
                self._add(block.copy())
