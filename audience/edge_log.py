"""Who fetches the stored files nginx serves in production (`/files/`, straight from the
bucket, where the API sees no request): nginx reports each request over syslog (UDP,
`deploy/nginx.conf`, log format `diaspor_audience`) to `diaspor worker`, which feeds them to
the same HLS sessions (audience/hls.py) and downloads (audience/downloads.py) as the API's
middleware (api/audience_watch.py) does with its own `/files/` requests.

A pure parser (`parse`: one datagram, RFC 3164 as nginx sends it or RFC 5424, whose message is
one JSON object) and a thin shell (`EdgeLog`: a datagram endpoint, one task that handles the
requests in the order they came, the HLS sessions' sweep). A playlist's text, which says how
long its segments are, is read from storage in a thread and kept a second, so a thousand
players of one channel cost one read a second. A line that is not ours is counted and dropped.

The datagram carries the client's address; it stays in memory (HLS sessions, downloads) and
is never written: no line is logged, only counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from audience.downloads import Downloads, span
from audience.hls import HlsViews, channel_of, keep_swept
from media.storage import Storage
from station.clock import Clock
from station.metrics import Metrics

log = logging.getLogger(__name__)
TAG = "diaspor_audience"
PREFIX = "/files/"
MAX_WAITING = 50_000  # requests received, not yet handled (past it: dropped, counted)
MAX_PLAYLIST = 1024 * 1024
PLAYLIST_KEEP_S = 1.0
PLAYLISTS_KEPT = 1_000
PRI = re.compile(r"<(\d{1,3})>")
RFC3164_TIME = re.compile(r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ")


@dataclass(frozen=True, slots=True)
class Fetch:
    """One request nginx served under /files/."""

    at: datetime
    address: str
    method: str
    key: str  # the storage key: the path after /files/ (nginx's $uri, decoded)
    status: int
    sent: int  # body bytes sent
    start: int  # where they begin in the file (Content-Range), else 0
    size: int  # the file's size, when the answer says it; else 0
    agent: str


def message_of(line: str) -> str | None:
    """The message of a syslog line tagged `TAG` (RFC 3164, with or without a hostname; or
    RFC 5424 whose APP-NAME is the tag), None for any other line."""
    pri = PRI.match(line)
    if pri is None:
        return None
    rest = line[pri.end() :]
    if rest.startswith("1 "):  # RFC 5424: VERSION TIMESTAMP HOST APP PROCID MSGID SD MSG
        fields = rest.split(" ", 6)
        if len(fields) < 7 or fields[3] != TAG:
            return None
        sd_and_msg = fields[6]
        if sd_and_msg.startswith("- "):
            return sd_and_msg[2:].removeprefix("\ufeff")
        return sd_and_msg[sd_and_msg.find("] ") + 2 :] if "] " in sd_and_msg else None
    if RFC3164_TIME.match(rest) is None:
        return None
    head, colon, message = rest[16:].partition(": ")
    if not colon or head.rsplit(" ", 1)[-1].split("[", 1)[0] != TAG:
        return None
    return message


def parse(datagram: bytes) -> Fetch | None:
    """One datagram from nginx as a request, or None when it is not one of ours."""
    message = message_of(datagram.decode("utf-8", "replace").rstrip("\r\n\0"))
    if message is None:
        return None
    try:
        d = json.loads(message)
        uri, address = str(d["uri"]), str(d["addr"])
        ipaddress.ip_address(address)
        status, sent = int(d["status"]), int(d["sent"])
        at = datetime.fromtimestamp(float(d["msec"]), UTC)
        start, size = span(str(d.get("range", "")), str(d.get("length", "")), status)
        method, agent = str(d.get("method", "GET")), str(d.get("agent", ""))
    except (ValueError, TypeError, KeyError, OverflowError, OSError):
        return None
    if not uri.startswith(PREFIX) or sent < 0:
        return None
    return Fetch(at, address, method, uri[len(PREFIX) :], status, sent, start, size, agent)


class Playlists:
    """Playlists' texts read from storage, each kept `PLAYLIST_KEEP_S`; None when unreadable."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.kept: OrderedDict[str, tuple[float, str | None]] = OrderedDict()

    async def text(self, key: str) -> str | None:
        now = time.monotonic()
        found = self.kept.get(key)
        if found is not None and now - found[0] < PLAYLIST_KEEP_S:
            return found[1]
        text = await asyncio.to_thread(self._read, key)
        self.kept[key] = (time.monotonic(), text)
        self.kept.move_to_end(key)
        while len(self.kept) > PLAYLISTS_KEPT:
            self.kept.popitem(last=False)
        return text

    def _read(self, key: str) -> str | None:
        try:
            with self.storage.open(key) as f:
                return f.read(MAX_PLAYLIST).decode("utf-8", "replace")
        except Exception:  # storage away, or the playlist gone: the player still counts
            return None


class Receiver(asyncio.DatagramProtocol):
    def __init__(self, edge: EdgeLog) -> None:
        self.edge = edge

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.edge.received(data)


class EdgeLog:
    """The worker's receiver of nginx's reports; one per process, run by the supervisor."""

    def __init__(
        self,
        views: HlsViews,
        downloads: Downloads,
        storage: Storage,
        clock: Clock,
        *,
        host: str,
        port: int,
        metrics: Metrics | None = None,
    ) -> None:
        self.views = views
        self.downloads = downloads
        self.playlists = Playlists(storage)
        self.clock = clock
        self.host, self.port = host, port
        self.metrics = metrics
        self.queue: asyncio.Queue[Fetch] = asyncio.Queue(MAX_WAITING)
        self.counts = {"counted": 0, "bad": 0, "dropped": 0}
        self.bound: tuple[str, int] | None = None  # where it listens, once it does

    def received(self, data: bytes) -> None:
        fetch = parse(data)
        if fetch is None:
            self._count("bad")
            return
        try:
            self.queue.put_nowait(fetch)
        except asyncio.QueueFull:
            self._count("dropped")

    def _count(self, outcome: str) -> None:
        self.counts[outcome] += 1
        if self.metrics is not None:
            self.metrics.audience_edge_lines.labels(outcome).inc()

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: Receiver(self), local_addr=(self.host, self.port)
        )
        self.bound = transport.get_extra_info("sockname")[:2]
        log.info("audience: nginx's requests received over syslog on UDP port %d", self.port)
        handling = asyncio.create_task(self._handle_all(), name="audience: nginx's requests")
        sweeping = asyncio.create_task(keep_swept(self.views, self.clock, stop))
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({handling, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if handling.done():
                handling.result()  # raises what ended it, for the supervisor
        finally:
            transport.close()
            for task in (handling, stopping, sweeping):
                task.cancel()
            await asyncio.gather(handling, stopping, return_exceptions=True)
            with contextlib.suppress(asyncio.CancelledError):
                await sweeping
            self.views.flush(self.clock.now())  # a player that goes on is continued later
            await self.views.reports.drain()
            log.info(
                "audience: nginx's requests: %d counted, %d not ours, %d dropped",
                self.counts["counted"],
                self.counts["bad"],
                self.counts["dropped"],
            )

    async def _handle_all(self) -> None:
        while True:
            fetch = await self.queue.get()
            try:
                await self.handle(fetch)
            except Exception:
                log.exception("a request nginx reported could not be counted for the audience")
            else:
                self._count("counted")

    async def handle(self, f: Fetch) -> None:
        """As the API's middleware does for a request it served itself."""
        if f.method != "GET":
            return
        if f.key.endswith(".m3u8") and channel_of(f.key) is not None:
            if f.status in (200, 304):
                text = await self.playlists.text(f.key)
                self.views.playlist(f.key, text, f.address, f.agent, f.at)
        elif f.status in (200, 206):
            self.views.segment(f.key, f.address, f.agent, f.at)
            self.downloads.delivered(f.key, f.address, f.agent, f.at, f.start, f.sent, f.size)
