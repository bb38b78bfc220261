"""What the things on air are called in one language, and their artwork: from the library
and the catalogue, each looked up once per answer (a guide or a history names the same few
items often).

A title is given in the language asked for where the metadata has it, else as it is: an
episode's own titles, else the media item's titles (editors may give az/en/ru), else the
title the item was imported with. A programme is named by its slug and its title.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from api.services import Services, public_file_url
from media.models import MediaItem
from schedules.guide import pick
from station.errors import NotFound


class Names:
    def __init__(self, svc: Services, lang: str) -> None:
        self.svc = svc
        self.lang = lang
        self._media: dict[int, MediaItem | None] = {}
        self._records: dict[tuple[str, int], Mapping[str, Any] | None] = {}

    def _item(self, media_id: int | None) -> MediaItem | None:
        if media_id is None:
            return None
        if media_id not in self._media:
            try:
                self._media[media_id] = self.svc.library.get(media_id)
            except NotFound:
                self._media[media_id] = None
        return self._media[media_id]

    def _record(self, kind: str, rid: int | None) -> Mapping[str, Any] | None:
        if rid is None:
            return None
        if (kind, rid) not in self._records:
            try:
                self._records[kind, rid] = self.svc.schedules.get(kind, rid).data
            except NotFound:
                self._records[kind, rid] = None
        return self._records[kind, rid]

    def artwork(self, media_id: int | None) -> str | None:
        item = self._item(media_id)
        return public_file_url(self.svc.settings, item.artwork_key) if item else None

    def title(self, media_id: int | None, given: str, episode_id: int | None = None) -> str:
        """An item's title in the language, where its episode or its media item has one."""
        episode = self._record("episode", episode_id)
        if episode and (episode.get("titles") or {}).get(self.lang):
            return str(episode["titles"][self.lang])
        item = self._item(media_id)
        if item and item.titles.get(self.lang):
            return item.titles[self.lang]
        return given

    def programme(self, programme_id: int | None) -> tuple[str, str] | None:
        """The programme's slug and title in the language (else Azerbaijani)."""
        prog = self._record("programme", programme_id)
        if prog is None:
            return None
        return str(prog["slug"]), pick(prog.get("titles") or {}, self.lang)

    def track(self, t: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """A now-playing item (`NowPlaying.to_json`'s) named in the language: its title,
        the programme it is part of, and its artwork."""
        if t is None:
            return None
        prog = self.programme(t.get("programme_id"))
        return {
            **t,
            "title": self.title(t.get("media_id"), t["title"], t.get("episode_id")),
            "programme": prog[0] if prog else None,
            "programme_title": prog[1] if prog else None,
            "artwork": self.artwork(t.get("media_id")),
        }
