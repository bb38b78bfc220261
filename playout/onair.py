"""Putting a radio channel on air: the engine's boundaries become ICY titles on every mount
(the built-in relay directly, icecast2 through its admin API) and now-playing events."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from playout.asrun import Boundary, Outcome

log = logging.getLogger(__name__)
TitleSetter = Callable[[str, str], Awaitable[None] | None]


def stream_title(artist: str, title: str) -> str:
    """ICY StreamTitle, as classic players show it: "Artist - Title"."""
    return f"{artist} - {title}" if artist and title else (title or artist)


def title_hook(
    mounts: Sequence[str], set_title: TitleSetter
) -> Callable[[Boundary], Awaitable[None]]:
    """A boundary hook that sets the new item's title on each mount. A failed update is
    logged and the music goes on: titles must never stop the air."""

    async def hook(b: Boundary) -> None:
        if b.item.kind == "slate" or b.outcome == Outcome.OVERRIDDEN:
            return
        text = stream_title(b.item.artist, b.item.title)
        for mount in mounts:
            try:
                r = set_title(mount, text)
                if r is not None:
                    await r
            except Exception as exc:
                log.warning("title update failed", extra={"mount": mount, "error": str(exc)})

    return hook
