"""When a rule happens: RFC 5545 recurrence in the channel's zone, turned into UTC instants.

Pure: the caller gives the rule, the zone and the window. A rule authored for 20:00 in
Europe/Berlin stays at 20:00 local across daylight-saving changes; its UTC instant moves.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from schedules.plan import EntrySpec, to_ms


class RecurrenceError(ValueError):
    """The rule cannot be understood."""


def local_to_ms(local: datetime, tz: ZoneInfo) -> int:
    """A wall-clock time in tz to epoch ms. A time skipped by a DST jump lands just after it."""
    aware = local.replace(tzinfo=tz)
    # Round-trip to detect a non-existent wall time (spring forward): move it past the gap.
    back = aware.astimezone(ZoneInfo("UTC")).astimezone(tz).replace(tzinfo=None)
    if back != local:
        aware = (local + (local - back)).replace(tzinfo=tz)
    return to_ms(aware)


def check_rrule(rule: str, start_local: datetime) -> None:
    try:
        rrulestr(rule, dtstart=start_local)
    except (ValueError, TypeError) as exc:
        raise RecurrenceError(f"the recurrence rule {rule!r} is not valid: {exc}") from exc


def local_starts(entry: EntrySpec, tz: ZoneInfo, start_ms: int, end_ms: int) -> list[datetime]:
    """Local (naive) start times of an entry whose UTC start may fall in [start_ms, end_ms)."""
    # Widen by a day on each side: local and UTC days differ by up to 14 hours.
    lo = datetime.fromtimestamp(start_ms / 1000, tz).replace(tzinfo=None) - timedelta(days=1)
    hi = datetime.fromtimestamp(end_ms / 1000, tz).replace(tzinfo=None) + timedelta(days=1)
    if entry.rrule is None:
        return [entry.start_local] if lo <= entry.start_local <= hi else []
    try:
        start = fast_forward(entry.rrule, entry.start_local, lo)
        rule = rrulestr(entry.rrule, dtstart=start)
    except (ValueError, TypeError) as exc:
        raise RecurrenceError(f"entry {entry.id}: invalid rule {entry.rrule!r}: {exc}") from exc
    skipped = set(entry.exdates)
    return [t for t in rule.between(lo, hi, inc=True) if t not in skipped]


PERIODS = {
    "MINUTELY": timedelta(minutes=1),
    "HOURLY": timedelta(hours=1),
    "DAILY": timedelta(days=1),
    "WEEKLY": timedelta(weeks=1),
}


def fast_forward(rule: str, start: datetime, lo: datetime) -> datetime:
    """A start for the rule closer to `lo` that gives the very same occurrences from `lo` on.

    A rule is walked from its start, one period at a time: an every-minute rule begun in
    January is half a million steps by November, for every window asked about. Moving the
    start forward by a whole number of the rule's periods (times its INTERVAL, in wall-clock
    time, as the rule itself counts) changes nothing after the new start, so it is moved to
    one period before `lo`. Not for a rule that counts its occurrences (COUNT) or whose
    periods are months or years (few steps anyway), nor for a multi-line rule set."""
    if "\n" in rule.strip():
        return start
    parts = dict(
        p.split("=", 1) for p in rule.strip().upper().removeprefix("RRULE:").split(";") if "=" in p
    )
    period = PERIODS.get(parts.get("FREQ", ""))
    if period is None or "COUNT" in parts:
        return start
    step = period * max(1, int(parts.get("INTERVAL", "1")))
    periods = (lo - start) // step - 1
    return start + step * periods if periods > 0 else start


def occurrence_starts(
    entry: EntrySpec, tz: ZoneInfo, start_ms: int, end_ms: int, *, from_effective: bool = True
) -> list[int]:
    """UTC epoch-ms starts of an entry's occurrences in [start_ms, end_ms), within the
    entry's effective range (an edit splits a series at the moment it takes effect).
    With from_effective=False, occurrences begun before the effective start are included
    too: the resolver joins the one in progress at that moment."""
    out = []
    for local in local_starts(entry, tz, start_ms, end_ms):
        t = local_to_ms(local, tz)
        if not start_ms <= t < end_ms:
            continue
        eff = entry.effective_from_ms
        if from_effective and eff is not None and t < eff:
            continue
        if entry.effective_until_ms is not None and t >= entry.effective_until_ms:
            continue
        out.append(t)
    return out
