"""The timeline resolver: (channel, entries, catalogue, time range) -> what is on air, exactly.

Pure and deterministic: no clock, no I/O; shuffles are seeded by channel, day and playlist.
Every instant is covered (by filler or slate if nothing else), items never overlap, and a
hard start lands on its scheduled millisecond.

How it works:
- The channel's local day is the unit. Each day is resolved from its start, so the answer
  for any instant does not depend on the window asked for. (A programme that runs across
  midnight belongs to the day it starts in; the next day begins when it ends.)
- Occurrences of entries (recurring rules expanded, clocks compiled into one occurrence per
  slot per hour) form a stack: at any moment the most recently started occurrence that has
  content left is on air; when it ends or runs out, what it covered resumes.
- Hard starts are fixed points. Before one, content is fitted: a playlist offers an item
  that fits, then the channel's filler, then a slate of the exact remaining length; a
  programme running into a hard start is cut there.
- Music into music crossfades by the channel's crossfade; anything else is a hard cut.
- Operators' actions (`ActionSpec`) are points on the walk, not edits of the rules: a skip at
  T cuts the item on air at T and the walk goes on from T as it would have after that item
  (the next item of the same occurrence, what it covered, filler), so what follows moves
  earlier up to the next hard start, which stays where it is; a play-now at T cuts the item
  on air at T, plays its media from T (cut at the next hard start), then the rest of the
  interrupted item from where it stopped, and the walk goes on, everything pushed later and
  fitted before the next hard start as always. Nothing before T changes: the item on air is
  chosen as it was and only shortened.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from schedules.plan import (
    KIND_PROGRAMME,
    ActionSpec,
    Catalogue,
    ChannelSpec,
    ClockSpec,
    EntrySpec,
    MediaRef,
    PlaylistSpec,
    TimelineItem,
    to_ms,
)
from schedules.recurrence import local_to_ms, occurrence_starts

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
CROSSFADE_KINDS = frozenset({"music", "filler"})
CUTTABLE_KINDS = frozenset({"programme", "speech", "music", "filler", "jingle"})
MIN_ITEM_MS = 200  # shorter remainders become slate rather than a blip of a file
FADE_OUT_MS = 1500  # a cut item fades out over this long (or its whole length if shorter)
# An item an operator's action cuts fades out over this long before the instant: the action
# takes effect seconds after it is given, so a long fade would have begun before playout knew.
ACTION_FADE_MS = 300


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One happening of an entry (or of one clock slot within one hour)."""

    entry: EntrySpec
    start_ms: int
    end_ms: int  # planned; content that is not repeated plays out even past it
    span_ms: int  # length of the whole entry occurrence: the shorter, the more specific
    hard: bool
    order: int  # tie-break for equal starts: lower plays first
    source: str  # "playlist" | "media"
    ref_id: int
    mode: str = "once"  # "one" item, the source "once" through, or "repeat" until end_ms
    block_ms: int = 0
    episode_id: int | None = None


# --- content sources -------------------------------------------------------------------


class History:
    """What has played today, for artist and track separation across all sources."""

    def __init__(self) -> None:
        self.track: dict[int, int] = {}  # media id -> last start
        self.artist: dict[str, int] = {}  # case-folded artist -> last start

    def add(self, start_ms: int, media_id: int, artist: str) -> None:
        self.track[media_id] = start_ms
        if artist:
            self.artist[artist.casefold()] = start_ms

    def last_play(self, media_id: int, artist: str) -> tuple[int | None, int | None]:
        return self.track.get(media_id), self.artist.get(artist.casefold()) if artist else None


class Source:
    """Yields media for an occurrence; `fit` offers one no longer than a remainder."""

    def next(self, at_ms: int) -> MediaRef | None:
        raise NotImplementedError

    def fit(self, at_ms: int, remaining_ms: int) -> MediaRef | None:
        return None


class Single(Source):
    def __init__(self, media: MediaRef | None) -> None:
        self.media = media

    def next(self, at_ms: int) -> MediaRef | None:
        m, self.media = self.media, None
        return m


class Rotation:
    """A playlist's draw order for one day, shared by every occurrence that plays it, so a
    shuffle round runs on across the hours. Ordered playlists go on by wall clock (a day does
    not restart at item 1); shuffled ones draw from a seeded random order, keeping artists
    and tracks apart by the playlist's separation windows."""

    def __init__(
        self, pl: PlaylistSpec, cat: Catalogue, seed: str, history: History, start_ms: int | None
    ) -> None:
        self.items = [
            cat.media[i] for i in pl.media_ids if i in cat.media and cat.media[i].play_ms > 0
        ]
        self.pl = pl
        self.history = history
        self.rng = random.Random(seed)
        self.order: list[MediaRef] = []
        if self.items and not pl.shuffle and start_ms is not None:
            mean = max(1, sum(m.play_ms for m in self.items) // len(self.items))
            k = (start_ms // mean) % len(self.items)
            self.order = self.items[k:] + self.items[:k]

    def _round(self) -> list[MediaRef]:
        r = list(self.items)
        if self.pl.shuffle:
            self.rng.shuffle(r)
        return r

    def _ok(self, m: MediaRef, at_ms: int) -> bool:
        track_at, artist_at = self.history.last_play(m.id, m.artist)
        if track_at is not None and at_ms - track_at < self.pl.track_separation_ms:
            return False
        return not (artist_at is not None and at_ms - artist_at < self.pl.artist_separation_ms)

    def _age(self, m: MediaRef) -> int:
        """When it last played, or its artist did: the older, the better a fallback."""
        t, a = self.history.last_play(m.id, m.artist)
        return max(x if x is not None else -(2**62) for x in (t, a))

    def take(self, at_ms: int, fits: int | None) -> MediaRef | None:
        if not self.items:
            return None
        if not self.order:
            self.order = self._round()
        order = self.order
        candidates: Sequence[int]
        if fits is None:
            candidates = range(len(order))
        else:  # the longest that fits wastes least
            candidates = sorted(
                (k for k, m in enumerate(order) if m.play_ms <= fits),
                key=lambda k: -order[k].play_ms,
            )
        pick = next((k for k in candidates if self._ok(order[k], at_ms)), None)
        if pick is not None:
            return order.pop(pick)
        # Nothing left in this round keeps the separation: look through the whole playlist,
        # and failing that take what played longest ago.
        pool = [m for m in self.items if fits is None or m.play_ms <= fits]
        if not pool:
            return None
        choice = next((m for m in pool if self._ok(m, at_ms)), None) or min(pool, key=self._age)
        if choice in order:
            order.remove(choice)
        return choice


class PlaylistSource(Source):
    """One occurrence's use of a rotation: repeat until its end, one item, or once through."""

    def __init__(self, rotation: Rotation, *, repeat: bool, limit: int | None) -> None:
        self.rotation = rotation
        self.repeat = repeat
        self.limit = limit
        self.used = 0

    def next(self, at_ms: int) -> MediaRef | None:
        if self.limit is not None and self.used >= self.limit:
            return None
        m = self.rotation.take(at_ms, None)
        self.used += m is not None
        return m

    def fit(self, at_ms: int, remaining_ms: int) -> MediaRef | None:
        return self.rotation.take(at_ms, remaining_ms) if self.repeat else None


# --- occurrences -------------------------------------------------------------------------


def _episode(
    entry: EntrySpec, cat: Catalogue, local_day: datetime
) -> tuple[int | None, int | None]:
    """(episode id, media id) for a programme occurrence: pinned, else the one that airs that
    day, else the latest already aired, else the first."""
    prog = cat.programmes.get(entry.target_id)
    if prog is None or not prog.episodes:
        return None, None
    eps = [e for e in prog.episodes if e.media_id is not None]
    if entry.episode_id is not None:
        pinned = next((e for e in eps if e.id == entry.episode_id), None)
        return (pinned.id, pinned.media_id) if pinned else (None, None)
    if not eps:
        return None, None
    day = local_day.date()
    dated = sorted((e for e in eps if e.air_date is not None), key=lambda e: e.air_date)  # type: ignore[arg-type,return-value]
    today = [e for e in dated if e.air_date == day]
    if today:
        return today[0].id, today[0].media_id
    before = [e for e in dated if e.air_date is not None and e.air_date <= day]
    pick = before[-1] if before else eps[0]
    return pick.id, pick.media_id


def _clock_occurrences(
    entry: EntrySpec,
    clock: ClockSpec,
    start_ms: int,
    end_ms: int,
    tz: ZoneInfo,
    hard: bool,
    one_ms: Callable[[str, int], int],
) -> Iterator[Occurrence]:
    """A clock compiles into one occurrence per slot per local hour of [start_ms, end_ms)."""
    slots = sorted(clock.slots, key=lambda s: s.at_ms)
    if not slots:
        return
    local = datetime.fromtimestamp(start_ms / 1000, tz).replace(tzinfo=None)
    hour = local.replace(minute=0, second=0, microsecond=0)
    while True:
        h_ms = local_to_ms(hour, tz)
        if h_ms >= end_ms:
            return
        for i, slot in enumerate(slots):
            s = h_ms + slot.at_ms
            e = h_ms + (slots[i + 1].at_ms if i + 1 < len(slots) else HOUR_MS)
            if s >= end_ms:
                continue
            if s < start_ms:
                if not (slot.fill and e > start_ms):
                    continue  # before the clock begins; music in progress joins at its start
                s = start_ms
            yield Occurrence(
                entry=entry,
                start_ms=s,
                end_ms=min(e, end_ms)
                if slot.fill
                else s + max(1, one_ms(slot.source, slot.ref_id)),
                span_ms=end_ms - start_ms,
                hard=(hard if s == start_ms else slot.hard),
                order=i,
                source=slot.source,
                ref_id=slot.ref_id,
                mode="repeat" if slot.fill else "one",
                block_ms=h_ms,
            )
        hour += timedelta(hours=1)


def _content_ms(entry: EntrySpec, cat: Catalogue, media_id: int | None) -> int:
    if entry.duration_ms is not None:
        return entry.duration_ms
    if entry.target in ("programme", "media"):
        m = cat.media.get(media_id) if media_id is not None else None
        return m.play_ms if m else 0
    if entry.target == "playlist":
        pl = cat.playlists.get(entry.target_id)
        return sum(cat.media[i].play_ms for i in pl.media_ids if i in cat.media) if pl else 0
    return HOUR_MS  # a clock without a duration runs for one hour


def expand(
    channel: ChannelSpec, entries: Sequence[EntrySpec], cat: Catalogue, start_ms: int, end_ms: int
) -> list[Occurrence]:
    """Every occurrence whose start falls in [start_ms, end_ms), clocks compiled into slots."""
    tz = ZoneInfo(channel.timezone)
    out: list[Occurrence] = []

    def one_ms(source: str, ref_id: int) -> int:
        """How long one item of a source plays (the longest, for a playlist)."""
        if source == "media":
            m = cat.media.get(ref_id)
            return m.play_ms if m else 0
        pl = cat.playlists.get(ref_id)
        return (
            max((cat.media[i].play_ms for i in pl.media_ids if i in cat.media), default=0)
            if pl
            else 0
        )

    for entry in entries:
        eff = entry.effective_from_ms
        for s in occurrence_starts(entry, tz, start_ms, end_ms, from_effective=False):
            local = datetime.fromtimestamp(s / 1000, tz).replace(tzinfo=None)
            joined = eff is not None and s < eff  # in progress when the rule took effect
            if entry.target == "clock":
                clock = cat.clocks.get(entry.target_id)
                if clock is None:
                    continue
                e = s + _content_ms(entry, cat, None)
                if joined:
                    if e <= eff:  # type: ignore[operator]
                        continue
                    s = eff  # type: ignore[assignment]
                hard = entry.hard and not joined
                out.extend(_clock_occurrences(entry, clock, s, e, tz, hard, one_ms))
                continue
            episode_id, media_id = (None, None)
            if entry.target == "programme":
                episode_id, media_id = _episode(entry, cat, local)
            elif entry.target == "media":
                media_id = entry.target_id
            length = max(1, _content_ms(entry, cat, media_id))
            playlist = entry.target == "playlist"
            end = s + length
            if joined:
                if end <= eff:  # type: ignore[operator]
                    continue
                s = eff  # type: ignore[assignment]
            out.append(
                Occurrence(
                    entry=entry,
                    start_ms=s,
                    end_ms=end,
                    span_ms=length,
                    hard=entry.hard and not joined,
                    order=0,
                    source="playlist" if playlist else "media",
                    ref_id=entry.target_id if playlist else (media_id or 0),
                    mode="repeat" if playlist and entry.duration_ms is not None else "once",
                    block_ms=s,
                    episode_id=episode_id,
                )
            )
    out.sort(key=lambda o: (o.start_ms, o.order, o.entry.id))
    return out


# --- resolving one day -------------------------------------------------------------------


@dataclass
class _Live:
    occ: Occurrence
    source: Source
    started_ms: int | None = None
    done: bool = False

    def over(self, now_ms: int) -> bool:
        o = self.occ
        if self.started_ms is None:
            return o.end_ms <= now_ms  # its window passed while something else was on air
        if o.mode != "repeat":
            return False  # it plays its content out
        late = 0 if o.hard else self.started_ms - o.start_ms  # a late soft start keeps its length
        return o.end_ms + late <= now_ms

    def key(self) -> tuple[int, int, int]:
        """Which live occurrence is on air: the most specific, then the latest, then order."""
        return (-self.occ.span_ms, self.occ.start_ms, -self.occ.order)


class _Day:
    def __init__(
        self,
        channel: ChannelSpec,
        cat: Catalogue,
        start_ms: int,
        end_ms: int,
        seed: str,
        actions: Sequence[ActionSpec] = (),
    ) -> None:
        self.channel = channel
        self.cat = cat
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.seed = seed
        self.history = History()
        self.items: list[TimelineItem] = []
        self.cursor = start_ms
        self.rotations: dict[int, Rotation] = {}
        self.actions = sorted(
            (a for a in actions if start_ms <= a.at_ms < end_ms), key=lambda a: (a.at_ms, a.id)
        )
        self.hard_points: list[int] = [end_ms]
        self.sharp = False  # the next item starts where it is placed, without a crossfade
        filler = cat.playlists.get(channel.filler_playlist_id or -1)
        self.filler: PlaylistSource | None = (
            PlaylistSource(self.rotation(filler), repeat=True, limit=None) if filler else None
        )

    def rotation(self, pl: PlaylistSpec) -> Rotation:
        if pl.id not in self.rotations:
            self.rotations[pl.id] = Rotation(
                pl, self.cat, f"{self.seed}:{pl.id}", self.history, self.start_ms
            )
        return self.rotations[pl.id]

    def source_for(self, occ: Occurrence) -> Source:
        if occ.source == "playlist":
            pl = self.cat.playlists.get(occ.ref_id)
            if pl is None:
                return Single(None)
            if occ.mode == "once":
                # Played once through, from its first item: a rotation of its own.
                own = Rotation(
                    pl, self.cat, f"{self.seed}:{pl.id}:{occ.start_ms}", self.history, None
                )
                return PlaylistSource(own, repeat=False, limit=len(own.items))
            return PlaylistSource(
                self.rotation(pl),
                repeat=occ.mode == "repeat",
                limit=1 if occ.mode == "one" else None,
            )

        return Single(self.cat.media.get(occ.ref_id))

    # placing ------------------------------------------------------------------------

    def place(
        self,
        m: MediaRef | None,
        kind: str,
        length_ms: int,
        occ: Occurrence | None,
        *,
        hard: bool = False,
        cut: bool = False,
        cue_in_ms: int | None = None,
        action: ActionSpec | None = None,
    ) -> None:
        """Put an item at the cursor for length_ms (crossfading into it when both allow);
        then carry out the operators' actions that fall inside it."""
        xfade = self.channel.crossfade_ms
        prev = self.items[-1] if self.items else None
        start = self.cursor
        sharp, self.sharp = self.sharp, False
        if (
            prev is not None
            and xfade > 0
            and not hard
            and not sharp
            and not prev.cut
            and prev.kind in CROSSFADE_KINDS
            and kind in CROSSFADE_KINDS
            and prev.length_ms > 2 * xfade
            and length_ms > 2 * xfade
        ):
            self.items[-1] = replace(prev, end_ms=prev.end_ms - xfade, crossfade_ms=xfade)
            start -= xfade
            length_ms = length_ms  # the new item keeps its full audio; it starts earlier
        cue_in = cue_in_ms if cue_in_ms is not None else (m.cue_in_ms if m else 0)
        end = start + length_ms
        fade = min(FADE_OUT_MS, length_ms) if cut else 0
        entry = occ.entry if occ else None
        self.items.append(
            TimelineItem(
                start_ms=start,
                end_ms=end,
                kind=kind,
                media_id=m.id if m else None,
                cue_in_ms=cue_in,
                cue_out_ms=cue_in + length_ms,
                fade_out_ms=fade,
                hard=hard,
                cut=cut,
                title=m.title if m else "",
                artist=m.artist if m else "",
                entry_id=entry.id if entry else None,
                block_ms=occ.block_ms if occ else None,
                programme_id=entry.target_id if entry and entry.target == "programme" else None,
                episode_id=occ.episode_id if occ else None,
                action=action.kind if action else "",
                action_id=action.id if action else None,
            )
        )
        if m is not None:
            self.history.add(start, m.id, m.artist)
        self.cursor = end
        if self.actions and self.actions[0].at_ms < end:
            self.act(m, occ)

    # operators' actions -------------------------------------------------------------

    def act(self, m: MediaRef | None, occ: Occurrence | None) -> None:
        """The next action falls inside the item just placed (media m of occurrence occ):
        cut the item there, and for a play-now put its media on, then the rest of the item."""
        a = self.actions.pop(0)
        item = self.items.pop()
        played = a.at_ms - item.start_ms
        if played > 0:
            self.items.append(
                replace(
                    item,
                    end_ms=a.at_ms,
                    cue_out_ms=item.cue_in_ms + played,
                    crossfade_ms=0,
                    fade_out_ms=min(ACTION_FADE_MS, played),
                    cut=True,
                    action="skip" if a.kind == "skip" else item.action,
                    action_id=a.id if a.kind == "skip" else item.action_id,
                )
            )
        self.cursor = a.at_ms
        self.sharp = True
        now = self.cat.media.get(a.media_id or -1)
        if a.kind != "play-now" or now is None or now.play_ms <= 0:
            return  # a skip: the walk goes on from here
        hard_ms = self.hard_points[bisect_right(self.hard_points, self.cursor)]
        length = min(now.play_ms, hard_ms - self.cursor)
        self.place(now, now.kind, length, None, hard=True, cut=length < now.play_ms, action=a)
        rest = min(item.cue_out_ms - item.cue_in_ms - max(0, played), hard_ms - self.cursor)
        if rest >= MIN_ITEM_MS:
            self.sharp = True
            self.place(
                m,
                item.kind,
                rest,
                occ,
                cut=item.cut or self.cursor + rest == hard_ms,
                cue_in_ms=item.cue_in_ms + max(0, played),
            )

    def kind_of(self, m: MediaRef, occ: Occurrence) -> str:
        return KIND_PROGRAMME if occ.entry.target == "programme" else m.kind

    def fill_exact(self, until_ms: int, occ: Occurrence | None) -> None:
        """Fill [cursor, until) exactly: filler items that fit whole, then one filler cut to
        the remainder (with a fade: beds are made to be cut), and a slate only when the
        channel has no filler at all (or the remainder is a blip)."""
        while self.cursor < until_ms:
            remaining = until_ms - self.cursor
            if self.filler is not None and remaining >= MIN_ITEM_MS:
                m = self.filler.fit(self.cursor, remaining)
                if m is not None:
                    self.place(m, "filler", m.play_ms, occ)
                    continue
                m = self.filler.next(self.cursor)
                if m is not None:
                    self.place(m, "filler", remaining, occ, cut=True)
                    continue
            self.slate(until_ms, occ)

    def slate(self, until_ms: int, occ: Occurrence | None) -> None:
        """Filler that belongs to a scheduled block (padding before its next hard start) is
        part of that block in the guide; filler in a gap is a block of its own."""
        slate = self.cat.media.get(self.channel.slate_media_id or -1)
        self.place(slate, "slate", until_ms - self.cursor, occ, cue_in_ms=0)

    def filler_until(self, target_ms: int, hard_ms: int) -> None:
        """Nothing scheduled: filler up to the next start (items may run over a soft one)."""
        while self.cursor < target_ms:
            m = self.filler.next(self.cursor) if self.filler else None
            if m is None:
                self.fill_exact(target_ms, None)
                return
            if self.cursor + m.play_ms > hard_ms:
                self.fill_exact(hard_ms, None)
                return
            self.place(m, "filler", m.play_ms, None)

    # the walk -------------------------------------------------------------------------

    def run(self, occs: Sequence[Occurrence]) -> list[TimelineItem]:
        hard_points = sorted(
            {
                o.start_ms
                for o in occs
                if o.hard and self.start_ms < o.start_ms < self.end_ms and not shadowed(o, occs)
            }
        )
        hard_points.append(self.end_ms)
        self.hard_points = hard_points
        pending = [o for o in occs if o.start_ms >= self.start_ms]
        live: list[_Live] = []
        # Occurrences begun before the day that still run into it (a 24-hour rotation).
        for o in occs:
            if o.start_ms < self.start_ms < o.end_ms and o.mode == "repeat":
                live.append(_Live(o, self.source_for(o), started_ms=o.start_ms))
        pi = 0
        hi = 0
        while self.cursor < self.end_ms:
            while hi < len(hard_points) and hard_points[hi] <= self.cursor:
                hi += 1
            next_hard = hard_points[hi] if hi < len(hard_points) else self.end_ms
            while pi < len(pending) and pending[pi].start_ms <= self.cursor:
                o = pending[pi]
                live.append(_Live(o, self.source_for(o)))
                pi += 1
            live = [lv for lv in live if not lv.done and not lv.over(self.cursor)]
            current = max(live, key=_Live.key, default=None)
            next_start = pending[pi].start_ms if pi < len(pending) else self.end_ms
            if current is None:
                self.filler_until(min(next_start, next_hard), next_hard)
                continue
            m = current.source.next(self.cursor)
            if m is None:
                current.done = True
                o = current.occ
                until = min(o.end_ms, next_hard)
                if (
                    current.started_ms is None
                    and o.entry.target == "programme"
                    and o.entry.duration_ms is not None
                    and until > self.cursor
                ):
                    # A programme with nothing to play (a live show, an episode not in yet)
                    # keeps its slot: filler, as part of the programme's block.
                    current.started_ms = self.cursor
                    self.fill_exact(until, o)
                continue
            first = current.started_ms is None
            if first:
                current.started_ms = self.cursor
            hard = first and current.occ.hard and current.occ.start_ms == self.cursor
            kind = self.kind_of(m, current.occ)
            remaining = next_hard - self.cursor
            if m.play_ms <= remaining:
                self.place(m, kind, m.play_ms, current.occ, hard=hard)
                continue
            # It would run into a hard start: fit what is left.
            alt = current.source.fit(self.cursor, remaining)
            if alt is not None and alt.play_ms >= MIN_ITEM_MS:
                self.place(alt, self.kind_of(alt, current.occ), alt.play_ms, current.occ, hard=hard)
            elif kind in (KIND_PROGRAMME, "speech") and remaining >= MIN_ITEM_MS:
                self.place(m, kind, remaining, current.occ, hard=hard, cut=True)
            else:
                self.fill_exact(next_hard, current.occ)
        return self.items


def shadowed(h: Occurrence, occs: Sequence[Occurrence]) -> bool:
    """A hard start inside a more specific occurrence (a clock's :30 news during a programme
    laid over the 24-hour rotation) does not cut that occurrence: it is not on air then."""
    return any(
        p.span_ms < h.span_ms and p.start_ms < h.start_ms < p.end_ms for p in occs if p is not h
    )


def day_bounds(channel: ChannelSpec, start_ms: int, end_ms: int) -> list[tuple[int, datetime]]:
    """Local midnights (as epoch ms, with the local date) from the day of start_ms to end_ms."""
    tz = ZoneInfo(channel.timezone)
    day = datetime.fromtimestamp(start_ms / 1000, tz).replace(
        hour=0, minute=0, second=0, microsecond=0, tzinfo=None
    )
    out = []
    while True:
        ms = local_to_ms(day, tz)
        out.append((ms, day))
        if ms >= end_ms:
            return out
        day += timedelta(days=1)


def resolve(
    channel: ChannelSpec,
    entries: Sequence[EntrySpec],
    cat: Catalogue,
    start: datetime,
    end: datetime,
    day_run: Callable[[int], list[TimelineItem]] | None = None,
    actions: Sequence[ActionSpec] = (),
) -> list[TimelineItem]:
    """The channel's timeline covering [start, end): the first item contains `start`, the last
    contains the instant before `end`, and each item ends where the next begins. `day_run`
    (a local midnight, as epoch ms → that day's items) lets a caller keep resolved days; by
    default each is resolved here."""
    start_ms, end_ms = to_ms(start), to_ms(end)
    if end_ms <= start_ms:
        return []
    run = day_run or (lambda midnight: resolve_day(channel, entries, cat, midnight, actions))
    timeline: list[TimelineItem] = []
    for midnight, _ in day_bounds(channel, start_ms, end_ms)[:-1]:
        items = run(midnight)
        if items and items[-1].end_ms <= start_ms:
            continue
        timeline.extend(it for it in items if it.end_ms > start_ms and it.start_ms < end_ms)
    return timeline


def resolve_day(
    channel: ChannelSpec,
    entries: Sequence[EntrySpec],
    cat: Catalogue,
    midnight_ms: int,
    actions: Sequence[ActionSpec] = (),
) -> list[TimelineItem]:
    """Every item of the local day that begins at `midnight_ms`, from the day's start (the
    end of a programme still running at midnight) to the next day's."""
    bounds = day_bounds(channel, midnight_ms, midnight_ms + 1)
    (d0, date), (d1, _) = bounds[0], bounds[-1]
    # Expand with a day of margin before: programmes that began yesterday may run into today.
    occs = expand(channel, entries, cat, d0 - DAY_MS, d1 + DAY_MS)
    # A single item (a programme) running across midnight keeps its time: the next day
    # starts when it ends, and it belongs to the day it began in.
    d_start, d_end = d0, d1
    for o in occs:
        if o.source == "media" and o.start_ms < d0 < o.end_ms:
            d_start = max(d_start, o.end_ms)
        if o.source == "media" and o.start_ms < d1 < o.end_ms:
            d_end = max(d_end, o.end_ms)
    if d_end <= d_start:
        return []
    day_occs = [o for o in occs if o.start_ms < d_end and o.end_ms > d_start]
    seed = f"{channel.slug}:{date.date().isoformat()}"
    return _Day(channel, cat, d_start, d_end, seed, actions).run(day_occs)
