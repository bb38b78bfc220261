"""Which publication of each packaged asset is live, how the pointer is switched, and how
publications that are no longer live leave storage.

A publication is a folder `hls/assets/<media_id>/<token>/` written whole by
`media/packaging.py` and never changed after. The media row's `package_prefix` names the live
one: the VOD API, the podcast feeds and the TV sequencer find an asset's files through it, and
nothing else names them, so nobody finds a package by walking ids.

Switching is one conditional UPDATE of that column (compare-and-set on the prefix it replaces),
in the same transaction as the job that removes the replaced publication: two packagings of
one item at once cannot both believe they replaced the same prefix, and a replaced prefix is
always on its way out. The new publication is whole before the switch; if the switch fails, or
finds the row moved on, the new one is removed and the live one stays.

The replaced publication is removed `retire_after_s` later (`DIASPOR_PACKAGE_RETIRE_S`), not
at once: a TV channel follows the pointer at its next step, but the segments its live
playlists already list stay in their window for a minute or so (window and lead), and a
viewer fetching one must not find it gone.

Moving (`move`) is publishing the same package again: its files copied to a new prefix (inside
the bucket; hard links in a local folder) and switched to. The on-demand windows keeper
(`schedules/vod_windows.py`) moves an episode's package when its window closes, so that every
URL that was handed out stops working.

Packages made before publications existed sit at the asset's folder itself: migration 0009
points their rows there, the keeper moves them at its first sweep, and their removal spares the
publications' folders beside them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select, update

from jobs.queue import JobQueue, PermanentJobError, ProgressReporter
from media.models import MediaRow
from media.packaged import (
    MANIFEST,
    TOKEN,
    Package,
    Published,
    asset_prefix,
    load_package,
    new_publication,
)
from media.packaging import remove_prefix, upload_whole
from media.storage import Storage
from station.clock import Clock
from station.db import Database

log = logging.getLogger(__name__)

RETIRE_JOB = "media.retire_package"
LAST = (Package.master, MANIFEST)  # written last, removed first


@dataclass(frozen=True, slots=True)
class Publication:
    """What the row says of an asset's live publication."""

    media_id: int
    prefix: str
    published_at: datetime | None  # when the row was switched to it
    seen_at: datetime | None  # when the windows keeper last found it given out

    @property
    def legacy(self) -> bool:
        """Made before publications existed: at the asset's folder, a path anyone can guess."""
        return self.prefix == asset_prefix(self.media_id)


class Publications:
    def __init__(
        self,
        db: Database,
        storage: Storage,
        queue: JobQueue,
        clock: Clock,
        *,
        retire_after_s: float = 300.0,
    ) -> None:
        self.db = db
        self.storage = storage
        self.queue = queue
        self.clock = clock
        self.retire_after_s = retire_after_s

    # --- reading the pointer ------------------------------------------------------------

    def prefix_of(self, media_id: int) -> str | None:
        """The live publication's prefix, or None when the item has none."""
        with self.db.session() as s:
            return s.scalar(select(MediaRow.package_prefix).where(MediaRow.id == media_id))

    def find(self, media_id: int) -> Published | None:
        """The live publication and its manifest, or None."""
        prefix = self.prefix_of(media_id)
        if prefix is None:
            return None
        package = load_package(self.storage, prefix)
        return Published(prefix, package) if package is not None else None

    def live(self) -> list[Publication]:
        """Every item's live publication."""
        q = select(
            MediaRow.id,
            MediaRow.package_prefix,
            MediaRow.package_published_at,
            MediaRow.package_seen_at,
        ).where(MediaRow.package_prefix.is_not(None))
        with self.db.session() as s:
            return [
                Publication(mid, prefix, published_at, seen_at)
                for mid, prefix, published_at, seen_at in s.execute(q.order_by(MediaRow.id))
                if prefix is not None
            ]

    def mark_seen(self, media_ids: list[int], at: datetime) -> None:
        """The keeper found these publications given out at `at`."""
        if not media_ids:
            return
        with self.db.session() as s:
            s.execute(
                update(MediaRow)
                .where(MediaRow.id.in_(media_ids), MediaRow.package_prefix.is_not(None))
                .values(package_seen_at=at)
            )

    # --- switching ------------------------------------------------------------------------

    def replace(self, media_id: int, new: str) -> str | None:
        """Make `new` (whole in storage) the live publication, whatever was live; returns the
        prefix it replaced, which is removed after the grace."""
        while True:
            old = self.prefix_of(media_id)
            if self.switch(media_id, old, new):
                return old

    def switch(self, media_id: int, old: str | None, new: str | None) -> bool:
        """Compare-and-set: `new` becomes live if `old` still is (False otherwise, and nothing
        changed). The removal of `old` is queued in the same transaction."""
        now = self.clock.now()
        live = MediaRow.package_prefix
        with self.db.session() as s:
            res: Any = s.execute(
                update(MediaRow)
                .where(MediaRow.id == media_id, live.is_(None) if old is None else live == old)
                .values(package_prefix=new, package_published_at=now, package_seen_at=None)
            )
            if res.rowcount != 1:
                return False
            if old is not None:
                due = now + timedelta(seconds=self.retire_after_s)
                payload = {"media_id": media_id, "prefix": old}
                self.queue.enqueue(s, RETIRE_JOB, payload, run_after=due)
        log.info("publication switched", extra={"media": media_id, "to": new, "replaced": old})
        return True

    # --- moving -----------------------------------------------------------------------------

    async def move(self, media_id: int, prefix: str) -> str | None:
        """Publish the package at `prefix` again under a new prefix and switch to it, unless
        the row names another publication by then. Returns the new prefix, or None when
        nothing moved. A failure leaves the live publication as it was."""
        keys = await asyncio.to_thread(self._files, media_id, prefix)
        last = [f"{prefix}/{name}" for name in LAST]
        if last[-1] not in keys:  # nothing whole there (a migrated row without a package)
            await asyncio.to_thread(self.switch, media_id, prefix, None)
            return None
        new = new_publication(media_id)

        def copy(key: str) -> partial[None]:
            return partial(self.storage.copy, key, new + key[len(prefix) :])

        await upload_whole(
            self.storage,
            new,
            {k: copy(k) for k in keys if k not in last},
            [copy(k) for k in last if k in keys],
        )
        if not await asyncio.to_thread(self.switch, media_id, prefix, new):
            await asyncio.to_thread(remove_prefix, self.storage, new)
            return None
        return new

    # --- removing -----------------------------------------------------------------------------

    async def retire_job(self, payload: dict[str, Any], progress: ProgressReporter) -> None:
        """Remove a replaced publication (queued by `switch`, due after the grace): its master
        and manifest first, so that a half-removed one is never taken for whole."""
        media_id, prefix = int(payload["media_id"]), str(payload["prefix"])
        if not prefix.startswith(asset_prefix(media_id)):
            raise PermanentJobError(f"{prefix} is not a publication of media item {media_id}")
        if await asyncio.to_thread(self.prefix_of, media_id) == prefix:
            log.warning("publication live again: kept", extra={"media": media_id, "prefix": prefix})
            return
        keys = await asyncio.to_thread(self._files, media_id, prefix)
        first = [k for k in (f"{prefix}/{name}" for name in LAST) if k in keys]
        for key in first + [k for k in keys if k not in first]:
            await asyncio.to_thread(self.storage.delete, key)
        log.info("publication removed", extra={"media": media_id, "prefix": prefix})

    def _files(self, media_id: int, prefix: str) -> list[str]:
        """The keys of one publication; a legacy one's leave the publications beside it."""
        keys = list(self.storage.keys(prefix + "/"))
        if prefix != asset_prefix(media_id):
            return keys
        return [k for k in keys if not TOKEN.match(k[len(prefix) + 1 :].split("/")[0])]
