"""Which time zone a reader wants times in: `?tz=` (an IANA zone, as browsers and phones
name theirs: `America/Toronto`), else the channel's own. Every time stays ISO 8601 with its
offset either way; the zone decides the offset, and which day "today" is."""

from __future__ import annotations

from functools import cache
from typing import Annotated
from zoneinfo import ZoneInfo, available_timezones

from fastapi import Depends, Query

from api.problems import Problem


@cache
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


async def reader_zone(
    tz: Annotated[
        str | None,
        Query(
            max_length=64,
            description="an IANA time zone (America/Toronto) for the times and the days; "
            "default the channel's",
            examples=["America/Toronto"],
        ),
    ] = None,
) -> ZoneInfo | None:
    if tz is None:
        return None
    if tz not in known_zones():
        raise Problem(
            422,
            "Invalid request",
            f"{tz!r} is not an IANA time zone (such as Europe/Berlin or America/Toronto)",
            "unknown-time-zone",
        )
    return ZoneInfo(tz)


ZoneDep = Annotated[ZoneInfo | None, Depends(reader_zone)]
