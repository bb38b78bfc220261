"""What aired, read from the as-run log for the on-demand catalogue and its windows keeper
(`schedules/vod.py` `AiringLog`: schedules may not import playout, so this is handed in)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import func, select

from playout.asrun import AIRED
from playout.asrun_rows import AsRunRow
from schedules.vod import Airing
from station.db import Database

LONGEST = timedelta(days=1)  # no item airs longer (media are at most DIASPOR_MAX_DURATION_S)


class AsRunAirings:
    """Airings that played, whole or cut short."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def first_aired(self, media_ids: Collection[int], now: datetime) -> dict[int, datetime]:
        q = (
            select(AsRunRow.media_id, func.min(AsRunRow.actual_start))
            .where(
                AsRunRow.media_id.in_(media_ids),
                AsRunRow.outcome.in_(AIRED),
                AsRunRow.actual_start <= now,
            )
            .group_by(AsRunRow.media_id)
        )
        with self.db.session() as s:
            return {mid: at for mid, at in s.execute(q) if mid is not None}

    def aired(self, media_id: int, now: datetime, limit: int) -> list[Airing]:
        q = (
            select(AsRunRow.channel, AsRunRow.actual_start)
            .where(
                AsRunRow.media_id == media_id,
                AsRunRow.outcome.in_(AIRED),
                AsRunRow.actual_start <= now,
            )
            .order_by(AsRunRow.actual_start.desc(), AsRunRow.id.desc())
            .limit(limit)
        )
        with self.db.session() as s:
            return [Airing(channel, at) for channel, at in s.execute(q)]

    def on_air(
        self, media_ids: Collection[int], since: datetime, now: datetime
    ) -> dict[int, list[Airing]]:
        q = select(
            AsRunRow.media_id, AsRunRow.channel, AsRunRow.actual_start, AsRunRow.planned_ms
        ).where(
            AsRunRow.media_id.in_(media_ids),
            AsRunRow.outcome.in_(AIRED),
            AsRunRow.actual_start <= now,
            AsRunRow.actual_start > since - LONGEST,
        )
        out: dict[int, list[Airing]] = {}
        with self.db.session() as s:
            for mid, channel, start, ms in s.execute(q.order_by(AsRunRow.actual_start)):
                end = start + timedelta(milliseconds=ms)
                if mid is not None and end > since:
                    out.setdefault(mid, []).append(Airing(channel, start, end))
        return out
