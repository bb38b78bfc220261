"""What a playout process has on air, told to the API processes through storage.

`diaspor serve` and `diaspor playout` are separate processes in production (and may be on
separate machines); the API must still list the streams a channel has on air, count its
listeners and follow now-playing. Playout already writes `nowplaying/<channel>.json` at each
boundary; beside it, it keeps `onair/<channel>.json` — the streams and the listener count,
rewritten every `onair_status_s` and removed when the channel goes off air. The API reads
both (`api/follow.py`). Storage is what every deployment shares (a folder, or the bucket),
so this needs no other service; a status older than `STALE_AFTER` updates is taken for a
playout that died without removing it.

On PostgreSQL playout also says, once the now-playing file is written, which channel changed
(`NOW_PLAYING_NOTICES`, a NOTIFY), so that the API reads it at once instead of at its next
look; the file stays the news itself, and the look the safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from media.storage import Storage
from station.errors import NotFound
from station.leadership import this_process

log = logging.getLogger(__name__)
STALE_AFTER = 4  # missed rewrites


# The PostgreSQL notification channel on which playout tells of a now-playing file written.
NOW_PLAYING_NOTICES = "diaspor_now_playing"


def now_playing_notice(slug: str, seq: int) -> str:
    """What is said on NOW_PLAYING_NOTICES when `nowplaying/<slug>.json` has been written:
    the channel and the change's number, not the body (a notice holds at most 8000 bytes,
    and a listener that missed one must read the file anyway)."""
    return json.dumps({"channel": slug, "seq": seq})


def read_now_playing_notice(payload: str) -> tuple[str, int] | None:
    """The channel and number of a notice; None for one not of this shape."""
    try:
        d = json.loads(payload)
        return str(d["channel"]), int(d["seq"])
    except (ValueError, KeyError, TypeError):
        return None


def onair_key(slug: str) -> str:
    return f"onair/{slug}.json"


def nowplaying_key(slug: str) -> str:
    return f"nowplaying/{slug}.json"


@dataclass(frozen=True)
class OnAirStatus:
    channel: str
    streams: tuple[dict[str, Any], ...]
    listeners: int | None
    updated_at: datetime
    every_s: float
    # The channel's parts as playout sees them: {"status": "ok"|"degraded", "degraded":
    # {part: reason}} (station.supervisor.Health.channel_status).
    health: dict[str, Any] | None = None
    playout: str | None = None  # the process that has it on air ("pid@host"): the leader

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "channel": self.channel,
                "streams": list(self.streams),
                "listeners": self.listeners,
                "updated_at": self.updated_at.isoformat(),
                "every_s": self.every_s,
                "health": self.health,
                "playout": self.playout,
            },
            ensure_ascii=False,
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> OnAirStatus:
        d = json.loads(raw)
        return cls(
            str(d["channel"]),
            tuple(d["streams"]),
            d.get("listeners"),
            datetime.fromisoformat(d["updated_at"]),
            float(d["every_s"]),
            d.get("health"),
            d.get("playout"),
        )

    def fresh(self, now: datetime) -> bool:
        return (now - self.updated_at).total_seconds() <= STALE_AFTER * self.every_s


def write_status(storage: Storage, status: OnAirStatus) -> None:
    storage.put_bytes(
        onair_key(status.channel), status.to_json(), "application/json", durable=False
    )  # rewritten every few seconds: no flush to disk each time


def read_file(storage: Storage, key: str) -> bytes | None:
    """A small status file, or None when there is none (yet)."""
    try:
        fh = storage.open(key)
    except NotFound:
        return None
    try:
        return fh.read()
    finally:
        fh.close()


async def keep_status(
    storage: Storage,
    slug: str,
    streams: Sequence[dict[str, Any]],
    listeners: Callable[[], Awaitable[int | None]],
    every_s: float,
    stop: asyncio.Event,
    *,
    health: Callable[[], dict[str, Any]] | None = None,
) -> None:
    """While the channel is on air: its status rewritten every `every_s`; removed at the end,
    unless another playout has written it meanwhile (it took over: station/leadership.py).
    A storage that fails for a moment is logged and tried again at the next turn."""
    me = this_process().name
    try:
        while not stop.is_set():
            status = OnAirStatus(
                slug,
                tuple(streams),
                await listeners(),
                datetime.now(UTC),
                every_s,
                health() if health else None,
                me,
            )
            try:
                await asyncio.to_thread(write_status, storage, status)
            except Exception as exc:  # the air goes on; said, and tried again
                log.warning(
                    "could not write the on-air status", extra={"channel": slug, "error": str(exc)}
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(remove_status, storage, slug, me)


def remove_status(storage: Storage, slug: str, writer: str) -> None:
    """The channel's status gone, if `writer` wrote the one there."""
    raw = read_file(storage, onair_key(slug))
    if raw is None:
        return
    try:
        theirs = OnAirStatus.from_json(raw).playout
    except (ValueError, KeyError, TypeError):
        theirs = None
    if theirs in (None, writer):
        storage.delete(onair_key(slug))
