"""Podcast and on-demand downloads, counted the way the IAB Podcast Measurement Technical
Guidelines (v2.x) count them.

A request for an episode's enclosure (a radio show's stored original, or the M4A file of a TV
episode's sound that packaging makes) is one piece of a download. The pieces of one visitor
(address and User-Agent) for one file on one UTC day are merged (range requests: the bytes
they delivered, overlaps counted once), and the download counts once, when at least a
minute of audio has been delivered: the file's bytes per second × 60, or the whole file when
it is shorter. Known robots (ua-parser's "Spider" device, and a few names) are not counted.
The ledger's source key `podcast:<episode>:<visitor>:<day>` makes a second count of the same
download (another process, a restart) the same row.

Which episode a file is, its length and its duration are read in the reports' thread (and
remembered): nothing here waits on the database.
"""

from __future__ import annotations

import contextlib
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select

from audience.ledger import Arrival, Ledger, Surface
from audience.players import player_of
from audience.report_queue import Reports
from media.models import MediaRow
from schedules.models import EpisodeRow

MINUTE_S = 60
ROBOTS = ("bot", "crawler", "spider", "slurp", "facebookexternalhit")
# Files that are never an enclosure: live and packaged HLS, pictures, subtitles, documents.
NOT_ENCLOSURES = (".m3u8", ".ts", ".m4s", ".vtt", ".jpg", ".jpeg", ".png", ".webp", ".json")
PACKAGED_SOUND = re.compile(r"hls/assets/(\d+)/[^/]+/[^/]+\.m4a")
KEPT = 10_000  # files and downloads remembered


def is_robot(agent: str) -> bool:
    low = agent.lower()
    return player_of(agent).device == "Spider" or any(name in low for name in ROBOTS)


def may_be_enclosure(key: str) -> bool:
    if key.endswith(NOT_ENCLOSURES):
        return False
    if key.startswith("hls/"):
        return PACKAGED_SOUND.fullmatch(key) is not None
    return True


@dataclass(frozen=True, slots=True)
class Enclosure:
    episode_id: int
    duration_ms: int


def enclosure_of(ledger: Ledger, key: str) -> Enclosure | None:
    """The episode whose enclosure `key` is (its first, when a media item has several)."""
    packaged = PACKAGED_SOUND.fullmatch(key)
    with ledger.db.session() as s:
        media = (
            s.get(MediaRow, int(packaged.group(1)))
            if packaged
            else s.execute(select(MediaRow).where(MediaRow.storage_key == key)).scalars().first()
        )
        if media is None or not media.duration_ms:
            return None
        episode = s.execute(
            select(EpisodeRow.id).where(EpisodeRow.media_id == media.id).order_by(EpisodeRow.id)
        ).first()
    return None if episode is None else Enclosure(episode[0], media.duration_ms)


def span(content_range: str, content_length: str, status: int) -> tuple[int, int]:
    """Where an answer's bytes begin in the file, and the file's size (0: not said), from its
    `Content-Range: bytes a-b/size` (a 206), else its Content-Length (a 200)."""
    start = size = 0
    with contextlib.suppress(IndexError, ValueError):
        if content_range.startswith("bytes "):
            start = int(content_range.split(" ", 1)[1].split("-", 1)[0])
    with contextlib.suppress(ValueError):
        if "/" in content_range:
            size = int(content_range.rsplit("/", 1)[1])
        elif status == 200:
            size = int(content_length or "0")
    return start, size


def merged(spans: list[tuple[int, int]]) -> int:
    """Bytes covered by half-open spans, overlaps once."""
    total, reach = 0, -1
    for a, b in sorted(spans):
        if b <= reach:
            continue
        total += b - max(a, reach)
        reach = b
    return total


@dataclass(eq=False)
class Download:
    key: str
    address: str
    agent: str
    day: date
    first: datetime
    last: datetime
    size: int = 0  # the file's length, as its answers said
    spans: list[tuple[int, int]] = field(default_factory=list)
    counted: bool = False


class Downloads:
    """One process's downloads in progress; call from one event loop."""

    def __init__(self, reports: Reports) -> None:
        self.reports = reports
        self.files: OrderedDict[str, Enclosure | None] = OrderedDict()  # filled in the thread
        self.pieces: OrderedDict[tuple[str, str, str, date], Download] = OrderedDict()

    def delivered(
        self, key: str, address: str, agent: str, at: datetime, start: int, sent: int, size: int
    ) -> None:
        """A request for stored file `key` delivered `sent` bytes from `start` of a file of
        `size` bytes."""
        if sent <= 0 or not may_be_enclosure(key) or is_robot(agent):
            return
        if key in self.files and self.files[key] is None:
            return  # known not to be an enclosure
        ident = (key, address, agent, at.date())
        d = self.pieces.get(ident)
        if d is None:
            d = self.pieces[ident] = Download(key, address, agent, at.date(), at, at)
            while len(self.pieces) > KEPT:
                self.pieces.popitem(last=False)
        self.pieces.move_to_end(ident)
        d.last, d.size = max(d.last, at), max(d.size, size)
        d.spans.append((start, start + sent))
        if not d.counted:
            self.reports.put(lambda ledger: self._count(ledger, d))

    def _count(self, ledger: Ledger, d: Download) -> None:
        """In the reports' thread: count the download once a minute has been delivered."""
        if d.counted:
            return
        if d.key not in self.files:
            self.files[d.key] = enclosure_of(ledger, d.key)
            while len(self.files) > KEPT:
                self.files.popitem(last=False)
        found = self.files[d.key]
        if found is None or d.size <= 0:
            return
        need = min(d.size, d.size * MINUTE_S * 1000 // max(found.duration_ms, 1))
        got = merged(list(d.spans))
        if got < need:
            return
        visitor = ledger.visitor(d.first, d.address, d.agent)
        source = f"podcast:{found.episode_id}:{visitor}:{d.day.isoformat()}"
        seconds = min(found.duration_ms, got * found.duration_ms // d.size) // 1000
        a = Arrival(
            source, Surface.PODCAST, d.first, d.address, d.agent, episode_id=found.episode_id
        )
        ledger.record(a, d.last, seconds, got)
        d.counted = True
