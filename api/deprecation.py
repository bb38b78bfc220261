"""Deprecated operations, as the API says so to clients (docs/api.md, "Deprecation").

A deprecated operation keeps working until its sunset, and says on every answer that it is
deprecated, since when, until when, and what replaces it:

    Deprecation: @1796256000                       (RFC 9745: since when, a Unix time)
    Sunset: Wed, 01 Sep 2027 00:00:00 GMT          (RFC 8594: when it stops answering)
    Link: <…/embed/tv/diaspor-tv>; rel="successor-version",
          <…/static/api-changelog.md>; rel="deprecation"

and the OpenAPI document marks it `deprecated: true`, its description saying the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from api.problems import Problem

CHANGELOG = "/static/api-changelog.md"


@dataclass(frozen=True, slots=True)
class Deprecated:
    since: datetime  # aware
    sunset: datetime  # aware; at least six months after `since` (the policy)
    successor: str  # the path of what replaces it
    why: str

    def answer(self, now: datetime, base: str, successor: str) -> dict[str, str]:
        """The headers every answer carries until the sunset; after it, a 410 problem
        saying what replaced it."""
        if now >= self.sunset:
            raise Problem(
                410,
                "Gone",
                f"this was retired on {self.sunset.date().isoformat()}: use {base}{successor}",
                "sunset",
            )
        return {
            "Deprecation": f"@{int(self.since.timestamp())}",
            "Sunset": format_datetime(self.sunset, usegmt=True),
            "Link": f'<{base}{successor}>; rel="successor-version", '
            f'<{base}{CHANGELOG}>; rel="deprecation"',
        }

    def description(self) -> str:
        return (
            f"**Deprecated** since {self.since.date().isoformat()}; it stops answering on "
            f"{self.sunset.date().isoformat()}. {self.why} Use `{self.successor}`. Every answer "
            "carries `Deprecation`, `Sunset` and a `Link` to the successor."
        )
