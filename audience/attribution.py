"""Listening attributed to what was on air: a radio or TV session's span cut at the channel's
as-run boundaries, each part given the programme, episode and title that aired then.

An item lasts from its actual start to the next item's actual start on the channel; the
last one known, to its planned end. Boundaries count at the whole second they fall in, so
the parts of a session are whole seconds that add up to its length exactly. Time outside
every item (before the log begins, after its last item ends) is attributed to nothing.

The core (`on_air`, `split`) is pure; `Airings` reads the as-run log and the schedule."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from playout.asrun import AIRED, AsRun
from schedules.plan import to_ms
from station.db import Database


@dataclass(frozen=True, slots=True)
class Aired:
    """An item on a channel's air, [start_s, end_s) in epoch seconds."""

    start_s: int
    end_s: int
    programme_id: int | None
    episode_id: int | None
    title: str


@dataclass(frozen=True, slots=True)
class Part:
    """Some seconds of a session, and what aired during them (None: nothing known)."""

    start_s: int
    end_s: int
    aired: Aired | None


@dataclass(frozen=True, slots=True)
class Meaning:
    """What an as-run row stands for in the catalogue."""

    programme_id: int | None
    episode_id: int | None


def on_air(rows: Iterable[AsRun], meaning: dict[int, Meaning]) -> list[Aired]:
    """A channel's aired rows (any order) as consecutive items. `meaning` maps a row's id to
    its programme and episode."""
    ordered = sorted(
        (r for r in rows if r.outcome in AIRED), key=lambda r: (r.actual_start, r.id or 0)
    )
    out: list[Aired] = []
    for i, r in enumerate(ordered):
        start = to_ms(r.actual_start) // 1000
        if i + 1 < len(ordered):
            end = to_ms(ordered[i + 1].actual_start) // 1000
        else:
            end = (to_ms(r.actual_start) + max(r.planned_ms, 0)) // 1000
        m = meaning.get(r.id or 0, Meaning(None, None))
        if end > start:
            out.append(Aired(start, end, m.programme_id, m.episode_id, r.title))
    return out


def split(
    start_s: int, end_s: int, items: Sequence[Aired], starts: Sequence[int] | None = None
) -> list[Part]:
    """[start_s, end_s) cut at the items' boundaries: parts in order, covering it exactly
    (a session of no seconds is one empty part, at its start). `starts`: the items' starts,
    when the caller has them at hand for many sessions."""
    if starts is None:
        starts = [i.start_s for i in items]
    at = start_s
    parts: list[Part] = []
    k = max(bisect_right(starts, at) - 1, 0)
    while at < end_s:
        while k < len(items) and items[k].end_s <= at:
            k += 1
        if k < len(items) and items[k].start_s <= at:
            upto = min(items[k].end_s, end_s)
            parts.append(Part(at, upto, items[k]))
        else:
            upto = min(items[k].start_s, end_s) if k < len(items) else end_s
            parts.append(Part(at, upto, None))
        at = upto
    if not parts:
        k = bisect_right(starts, start_s) - 1
        hit = items[k] if 0 <= k < len(items) and items[k].end_s > start_s else None
        parts.append(Part(start_s, start_s, hit))
    return parts


def seconds_by_programme(parts: Iterable[Part]) -> dict[int | None, int]:
    """Seconds per programme id (None: no programme)."""
    out: dict[int | None, int] = {}
    for p in parts:
        key = p.aired.programme_id if p.aired else None
        out[key] = out.get(key, 0) + p.end_s - p.start_s
    return out


def seconds_by_title(parts: Iterable[Part]) -> dict[str, int]:
    """Seconds per title of what aired ("" where nothing is known)."""
    out: dict[str, int] = {}
    for p in parts:
        key = p.aired.title if p.aired else ""
        out[key] = out.get(key, 0) + p.end_s - p.start_s
    return out


class Airings:
    """The shell: a channel's aired items over a span, from the as-run log, each with the
    programme of its schedule entry (an entry whose target is a programme) and the episode
    of its entry, or else of its media (an episode's media)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def items(self, channel: str, start: datetime, end: datetime) -> list[Aired]:
        """What aired on `channel` over [start, end): the item on air at `start` included."""
        from sqlalchemy import select

        from playout.asrun import as_run
        from playout.asrun_rows import AsRunRow

        aired = AsRunRow.outcome.in_([str(o) for o in AIRED])
        base = select(AsRunRow).where(AsRunRow.channel == channel, aired)
        with self.db.session() as s:
            before = s.scalars(
                base.where(AsRunRow.actual_start <= start)
                .order_by(AsRunRow.actual_start.desc(), AsRunRow.id.desc())
                .limit(1)
            ).all()
            within = s.scalars(
                base.where(AsRunRow.actual_start > start, AsRunRow.actual_start < end)
            ).all()
            after = s.scalars(
                base.where(AsRunRow.actual_start >= end)
                .order_by(AsRunRow.actual_start, AsRunRow.id)
                .limit(1)
            ).all()
            rows = [as_run(r) for r in (*before, *within, *after)]
        return on_air(rows, self.meanings(rows))

    def meanings(self, rows: Sequence[AsRun]) -> dict[int, Meaning]:
        from sqlalchemy import select

        from schedules.models import EntryRow, EpisodeRow

        entry_ids = {r.entry_id for r in rows if r.entry_id is not None}
        media_ids = {r.media_id for r in rows if r.media_id is not None}
        with self.db.session() as s:
            entries = {
                e.id: (e.target_type, e.target_id, e.episode_id)
                for e in s.scalars(select(EntryRow).where(EntryRow.id.in_(entry_ids)))
            }
            by_media = {
                e.media_id: (e.id, e.programme_id)
                for e in s.scalars(select(EpisodeRow).where(EpisodeRow.media_id.in_(media_ids)))
                if e.media_id is not None
            }
            named = {ep for _, _, ep in entries.values() if ep is not None}
            programme_of = {
                i: p
                for i, p in s.execute(
                    select(EpisodeRow.id, EpisodeRow.programme_id).where(EpisodeRow.id.in_(named))
                )
            }
        out: dict[int, Meaning] = {}
        for r in rows:
            programme: int | None = None
            episode: int | None = None
            kind, target, entry_episode = entries.get(r.entry_id or 0, ("", 0, None))
            if kind == "programme":
                programme, episode = target, entry_episode
            if episode is None and r.media_id in by_media:
                episode, of = by_media[r.media_id]
                programme = programme if programme is not None else of
            if programme is None and episode is not None:
                programme = programme_of.get(episode)
            out[r.id or 0] = Meaning(programme, episode)
        return out

    def programme_of_episodes(self, episode_ids: Iterable[int]) -> dict[int, int]:
        """The programme of each episode (podcast and on-demand sessions name an episode)."""
        from sqlalchemy import select

        from schedules.models import EpisodeRow

        ids = set(episode_ids)
        if not ids:
            return {}
        with self.db.session() as s:
            q = select(EpisodeRow.id, EpisodeRow.programme_id).where(EpisodeRow.id.in_(ids))
            return {i: p for i, p in s.execute(q)}
