"""On-demand windows closed in storage: a package that was given out and no longer may be is
moved to a new, unguessable prefix, so that every URL handed out for it stops working.

The rule (`must_move`, pure). A publication is *exposed* while an episode of its media item is
on demand (its window: `schedules/vod.py`, whose URLs the API hands out) or while the item is
on a TV channel (an airing, from the as-run log: the channel's live playlists name its
segments, so a viewer can read the prefix there). One that has been exposed since it was
published must move as soon as it is not exposed any more. "Since it was published" is known
two ways: an exposure that ended after the row was switched to it (a window closed, an airing
ended), or the keeper itself having found it exposed at an earlier sweep (`package_seen_at`:
that covers an episode an editor deleted, or whose window was pushed into the future). A
package made before publications existed (at the guessable `hls/assets/<id>/`) always moves.
Only items that are some episode's media are looked at: no other item has a window to keep.

The keeper (`VodWindows.run`) is a part of the worker process (`diaspor worker`, and the
demo), every `DIASPOR_VOD_WINDOWS_EVERY_S`: it reads the windows and the airings, marks what
it finds exposed, and moves what must move (`media/publications.py`: copied inside storage,
switched, the old prefix removed `DIASPOR_PACKAGE_RETIRE_S` later, when no TV playlist lists
its segments any more). A move that fails is tried again at the next sweep. So a window's URLs
stop working at most a sweep and the grace after it closes. The TV channels follow the pointer
(`playout/sequencer.py`), so an asset on air is never cut by a move.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from media.publications import Publication, Publications
from schedules.vod import Airing, Availability, Catalogue
from station.clock import Clock, pause

log = logging.getLogger(__name__)

# An airing that ended before the last sweep was judged by it (moved, or marked seen because
# the item was on demand then), unless its as-run row was written late: this much is read again.
LATE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Exposure:
    """A stretch during which a publication's prefix is given out: [start, end)."""

    start: datetime
    end: datetime | None  # None: no end set (a window without `available_until`)

    def holds(self, at: datetime) -> bool:
        return self.start <= at and (self.end is None or at < self.end)


def exposures(windows: Iterable[Availability], airings: Iterable[Airing]) -> list[Exposure]:
    """An item's exposures: its episodes' windows that have a start, and its airings."""
    out = [Exposure(w.start, w.until) for w in windows if w.start is not None]
    return out + [Exposure(a.start, a.end) for a in airings if a.end is not None]


def must_move(pub: Publication, exposed: Sequence[Exposure], now: datetime) -> bool:
    """Whether the publication must move to a new prefix now (see the module's docstring)."""
    if pub.legacy:
        return True
    if any(e.holds(now) for e in exposed):
        return False
    made = pub.published_at
    if pub.seen_at is not None and (made is None or pub.seen_at >= made):
        return True
    return any(
        e.end is not None and e.start < e.end <= now and (made is None or e.end > made)
        for e in exposed
    )


class VodWindows:
    def __init__(self, catalogue: Catalogue, publications: Publications, clock: Clock) -> None:
        self.catalogue = catalogue
        self.publications = publications
        self.clock = clock
        self._swept: datetime | None = None  # the last sweep that went through

    async def close(self) -> list[int]:
        """One sweep: returns the media items whose packages were moved."""
        now = self.clock.now()
        windows = await asyncio.to_thread(self.catalogue.windows)
        live = await asyncio.to_thread(self.publications.live)
        pubs = [p for p in live if p.legacy or p.media_id in windows]
        ids = [p.media_id for p in pubs]
        since = min((p.published_at or now for p in pubs), default=now)
        if self._swept is not None:  # what ended before the last sweep was judged then
            since = max(since, self._swept - LATE)
        airings = await asyncio.to_thread(self.catalogue.airings.on_air, ids, since, now)
        seen: list[int] = []
        moved: list[int] = []
        for pub in pubs:
            exposed = exposures(windows.get(pub.media_id, ()), airings.get(pub.media_id, ()))
            if any(e.holds(now) for e in exposed):
                seen.append(pub.media_id)
            if not must_move(pub, exposed, now):
                continue
            try:
                new = await self.publications.move(pub.media_id, pub.prefix)
            except Exception as exc:  # storage away: the next sweep tries again
                log.error(
                    "could not move a package out of reach; tried again next time",
                    extra={"media": pub.media_id, "error": f"{type(exc).__name__}: {exc}"},
                )
                seen.append(pub.media_id)  # so that it is, whatever ages out of `since`
                continue
            if new is not None:
                moved.append(pub.media_id)
                log.info(
                    "on-demand window closed: package moved",
                    extra={"media": pub.media_id, "from": pub.prefix, "to": new},
                )
        await asyncio.to_thread(self.publications.mark_seen, seen, now)
        self._swept = now
        return moved

    async def run(self, stop: asyncio.Event, every_s: float) -> None:
        """Sweep every `every_s` until `stop` is set."""
        while not stop.is_set():
            await self.close()
            await pause(self.clock, stop, every_s)
