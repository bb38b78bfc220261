"""A relay mount: its source's stream and title, the burst kept for new listeners, the
listeners, and the batched fan-out to them with ICY metadata.

What a source sends is gathered per mount and fanned out in batches, every `batch_interval`
(0.1 s) or as soon as `batch_bytes` (16 KiB) have come in. Encoders write small pieces
(ffmpeg: one MP3 frame, ~418 bytes, 38 times a second at 128 kbit/s) and every write costs a
system call and ICY bookkeeping per listener: passing each piece on cost ~3x icecast2's CPU
at 1,000 listeners, batches bring it close to icecast2's (bench/radio.py, part 3). 100 ms is
far below what players buffer; 16 KiB, about one metaint, bounds a batch when a source sends
fast. The batch goes out at once when its source ends, when the title changes (so bytes
received before the change carry the old title) and when the relay stops. The burst is the
last `burst_bytes` received, sent or still waiting: a listener joining mid-batch gets at once
the part the others already have, and the rest with the batch.

Each batch is written straight into every listener's transport; the transport's write
buffer is that listener's queue, bounded by `max_queue_bytes`. A listener whose buffer grows
past the bound is cut off at once, so a slow one never holds back the source or the others.

Apart from the server (streamer/relay.py) so that what happens to the bytes can be read
without the connection handling around it; the server decides when, a mount what.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from streamer.icy import ICY_METAINT, IcyWriter, metadata_block
from streamer.relay_http import StreamInfo

log = logging.getLogger(__name__)


def burst_start(data: bytes | bytearray, content_type: str) -> int:
    """Where a burst should begin so the player's first byte is a frame header.

    MP3 and ADTS frames start with a run of 1-bits (0xFFE/0xFFF); any other format is sent
    from the first byte. Decoders would resync anyway, but some players give up instead.
    """
    kind = content_type.split(";")[0].strip().lower()
    if kind not in ("audio/mpeg", "audio/mp3", "audio/aac", "audio/aacp", "audio/x-aac"):
        return 0
    mask = 0xF0 if "aac" in kind else 0xE0
    start = data.find(b"\xff")
    while 0 <= start < len(data) - 1:
        if data[start + 1] & mask == mask:
            return start
        start = data.find(b"\xff", start + 1)
    return 0


@dataclass(frozen=True, slots=True)
class MountStatus:
    mount: str
    live: bool  # a source is connected (otherwise the mount is waiting out its grace period)
    listeners: int
    listener_peak: int
    listeners_dropped: int  # cut off for being too slow, since the relay started
    info: StreamInfo
    title: str
    stream_start: datetime | None
    bytes_received: int


class Listener:
    __slots__ = ("framer", "key", "peer", "sent_from", "since", "transport")

    def __init__(
        self,
        transport: asyncio.WriteTransport,
        framer: IcyWriter | None,
        peer: str,
        key: str = "",
        since: datetime | None = None,
    ) -> None:
        self.transport = transport
        self.framer = framer
        self.peer = peer  # what the logs may say of it (a tag, never its address)
        self.key = key  # its session's key
        self.since = since
        # The mount's `sent` when it joined, less the burst it was given at once: what it has
        # been sent is `sent - sent_from`, less what still waits in its buffer.
        self.sent_from = 0

    def seconds(self, now: datetime) -> int:
        return 0 if self.since is None else max(0, round((now - self.since).total_seconds()))

    def send(self, data: bytes, block: bytes) -> None:
        if self.framer is None:
            self.transport.write(data)
            return
        pieces = self.framer.frame(data, block)
        if len(pieces) == 1:
            self.transport.write(pieces[0])
        else:
            self.transport.writelines(pieces)  # one system call, not one per piece

    def close(self) -> None:
        # A listener that has not taken what is queued may never take it: do not wait.
        if self.transport.get_write_buffer_size():
            self.transport.abort()
        else:
            self.transport.close()


@dataclass(eq=False)
class Mount:
    name: str
    info: StreamInfo
    title: str = ""
    block: bytes = field(default_factory=lambda: metadata_block(""))
    metaint: int = ICY_METAINT  # audio bytes between metadata blocks, for its ICY listeners
    burst_bytes: int | None = None  # its burst when smaller than the relay's (a slower mount)
    live: bool = False
    on_air: bool = False  # live, or waiting out the grace period with its listeners
    listeners: set[Listener] = field(default_factory=set)
    burst: bytearray = field(default_factory=bytearray)
    pending: bytearray = field(default_factory=bytearray)  # received, not yet fanned out
    flush: asyncio.TimerHandle | None = None  # sends `pending` when the batch is due
    # Listeners that joined mid-batch: they already have `pending[:n]` from their burst.
    joined: dict[Listener, int] = field(default_factory=dict)
    peak: int = 0
    dropped: int = 0
    bytes_received: int = 0
    sent: int = 0  # audio bytes fanned out to each listener, since the mount was made
    stream_start: datetime | None = None
    grace: asyncio.Task[None] | None = None

    def status(self) -> MountStatus:
        return MountStatus(
            mount=self.name,
            live=self.live,
            listeners=len(self.listeners),
            listener_peak=self.peak,
            listeners_dropped=self.dropped,
            info=self.info,
            title=self.title,
            stream_start=self.stream_start,
            bytes_received=self.bytes_received,
        )

    def attach(self, info: StreamInfo, now: datetime) -> None:
        """A source connected (again): a new stream, whose listeners so far are kept."""
        if self.grace is not None:
            self.grace.cancel()
            self.grace = None
        self.info = info
        self.live = self.on_air = True
        self.burst.clear()
        self.bytes_received = 0
        self.peak = len(self.listeners)
        self.stream_start = now

    def detach(self, max_queue_bytes: int) -> None:
        self.fan_out(max_queue_bytes)  # the source's last bytes are not left waiting for a batch
        self.live = False

    def off_air(self) -> None:
        """The source did not come back within its grace period."""
        self.on_air = False
        self.burst.clear()
        log.info(
            "mount off air: source did not come back; listeners closed",
            extra={"mount": self.name, "listeners": len(self.listeners)},
        )
        for listener in list(self.listeners):
            listener.close()
        self.listeners.clear()

    def receive(
        self,
        data: bytes,
        *,
        burst_bytes: int,
        batch_bytes: int,
        batch_interval: float,
        max_queue_bytes: int,
    ) -> None:
        self.bytes_received += len(data)
        if burst_bytes:
            burst = self.burst
            burst += data
            if len(burst) > burst_bytes:
                del burst[: len(burst) - burst_bytes]
        pending = self.pending
        pending += data
        if len(pending) >= batch_bytes or not batch_interval:
            self.fan_out(max_queue_bytes)
        elif self.flush is None:
            # The loop's timer, not the injected clock: this bounds real I/O latency, and
            # must fire in real time even when a simulated clock only moves when slept on.
            loop = asyncio.get_running_loop()
            self.flush = loop.call_later(batch_interval, self.fan_out, max_queue_bytes)

    def fan_out(self, max_queue_bytes: int) -> None:
        """Send the pending batch to every listener, and cut off those that fell behind."""
        if self.flush is not None:
            self.flush.cancel()
            self.flush = None
        if not self.pending:
            return
        # One immutable copy, shared: a transport may keep what it could not send yet.
        data = bytes(self.pending)
        self.pending.clear()
        self.sent += len(data)
        joined = self.joined
        if joined:
            self.joined = {}
        block = self.block
        slow: list[Listener] = []
        for listener in self.listeners:
            transport = listener.transport
            if transport.is_closing():
                continue
            if joined and listener in joined:
                listener.send(data[joined[listener] :], block)
            elif listener.framer is None:
                transport.write(data)
            else:
                listener.send(data, block)
            if transport.get_write_buffer_size() > max_queue_bytes:
                slow.append(listener)
        for listener in slow:
            self.listeners.discard(listener)
            self.dropped += 1
            log.warning(
                "listener dropped: too slow",
                extra={
                    "mount": self.name,
                    "client": listener.peer,
                    "queued_bytes": listener.transport.get_write_buffer_size(),
                },
            )
            listener.transport.abort()

    def set_title(self, title: str, max_queue_bytes: int) -> None:
        self.fan_out(max_queue_bytes)  # bytes received before the change keep the old title
        self.title = title
        self.block = metadata_block(title)

    def join(self, listener: Listener) -> None:
        """A new listener: the burst first, from a frame header, then the batches."""
        burst = bytes(self.burst)
        start = burst_start(burst, self.info.content_type)
        # The burst ends with the pending batch (or lies wholly inside it): send now what the
        # others already have, and let the batch bring the rest.
        sent = len(burst) - len(self.pending)
        listener.sent_from = self.sent
        if start < sent:
            listener.send(burst[start:sent], self.block)
            listener.sent_from -= sent - start
        if start > sent:
            self.joined[listener] = start - sent
        self.listeners.add(listener)
        self.peak = max(self.peak, len(self.listeners))

    def bytes_sent_to(self, listener: Listener) -> int:
        """Audio bytes sent to a listener so far (taken by its connection: not those still
        waiting in its buffer)."""
        waiting = listener.transport.get_write_buffer_size()
        return max(0, self.sent - listener.sent_from - waiting)

    def leave(self, listener: Listener) -> bool:
        """Forget a listener that went away; False when it had already been cut off."""
        self.joined.pop(listener, None)
        if listener not in self.listeners:
            return False
        self.listeners.discard(listener)
        return True
