"""What sessions add up to, cell by cell: the one computation both the rollups and the
reports' reading of raw sessions use, so that the two agree to the second.

A session covers [start_s, start_s + seconds), its start taken at the whole second. It is cut
at UTC hours and at what aired (audience/attribution.py), and adds to:

- its hour cells (hour × surface × channel × country × player × device × os × programme ×
  episode): a session begun (`sessions`, in the cell of its first second), a session that
  joined the cell's programme and episode (`joined`, the first second it heard of them), its
  seconds in the cell, and whether it was going on at the hour's first instant;
- its visitor's day (a bit for each UTC hour the visitor heard something in);
- the minute marks: +1 at the first mark at or after its start, -1 at the first at or after
  its end, so the sessions going on at each mark follow by a running sum.

Pure: no clock, no database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from audience.attribution import Meaning, Part

HOUR = 3600
DAY = 86400
MINUTE = 60

# hour_s, surface, channel, country, player, device, os, programme, episode ("" and 0: none)
HourKey = tuple[int, str, str, str, str, str, str, int, int]
# day (days since the epoch), visitor, surface, channel, programme, episode
VisitorKey = tuple[int, str, str, str, int, int]
MinuteKey = tuple[int, str, str]  # minute mark (epoch seconds), surface, channel


@dataclass(frozen=True, slots=True)
class Listened:
    """A session as the figures see it."""

    id: int
    surface: str
    channel: str  # "" for none (a podcast download)
    episode_id: int | None
    start_s: int
    seconds: int
    visitor: str
    country: str
    player: str
    device: str
    os: str


@dataclass(slots=True)
class Who:
    country: str
    player: str
    device: str
    os: str
    hours: int  # bit h: heard something in UTC hour h of the day


@dataclass
class Facts:
    # [sessions, joined, seconds, on_at_start]
    hours: dict[HourKey, list[int]] = field(default_factory=dict)
    visitors: dict[VisitorKey, Who] = field(default_factory=dict)
    minutes: dict[MinuteKey, int] = field(default_factory=dict)

    def add(self, s: Listened, parts: Sequence[Part], own: Meaning) -> None:
        """`parts`: the session cut at what aired; `own`: its programme and episode where
        nothing aired is known (a podcast or on-demand session names its episode)."""
        seen: set[tuple[int, int]] = set()
        first = True
        for part in parts:
            programme = part.aired.programme_id if part.aired else own.programme_id
            episode = part.aired.episode_id if part.aired else own.episode_id
            what = (programme or 0, episode or 0)
            at = part.start_s
            while True:
                hour = at - at % HOUR
                upto = min(part.end_s, hour + HOUR)
                key: HourKey = (
                    hour,
                    s.surface,
                    s.channel,
                    s.country,
                    s.player,
                    s.device,
                    s.os,
                    *what,
                )
                cell = self.hours.get(key)
                if cell is None:
                    cell = self.hours[key] = [0, 0, 0, 0]
                cell[0] += first
                cell[1] += what not in seen
                cell[2] += upto - at
                cell[3] += at == hour and upto > at
                self._visitor(s, hour, what)
                first = False
                seen.add(what)
                at = upto
                if at >= part.end_s:
                    break
        self._minutes(s)

    def _visitor(self, s: Listened, hour: int, what: tuple[int, int]) -> None:
        key: VisitorKey = (hour // DAY, s.visitor, s.surface, s.channel, *what)
        bit = 1 << (hour % DAY // HOUR)
        who = self.visitors.get(key)
        if who is None:
            self.visitors[key] = Who(s.country, s.player, s.device, s.os, bit)
        else:
            who.hours |= bit

    def _minutes(self, s: Listened) -> None:
        begin = -(-s.start_s // MINUTE) * MINUTE
        end = -(-(s.start_s + s.seconds) // MINUTE) * MINUTE
        if begin == end:
            return
        for mark, step in ((begin, 1), (end, -1)):
            key: MinuteKey = (mark, s.surface, s.channel)
            self.minutes[key] = self.minutes.get(key, 0) + step
