"""Titles on icecast2, kept until icecast2 takes them.

icecast2 refuses a title for a mount that has no source yet (so the first one, set as the
encoder connects, would be lost): the latest title per mount is kept and retried until
icecast2 takes it. A restarted icecast2 forgets titles, so the current ones are said again
every `refresh_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import httpx

from streamer.icecast_admin import IcecastAdminError, update_title

log = logging.getLogger(__name__)


@dataclass
class IcecastTitles:
    """Titles on icecast2 through its admin API. icecast2 refuses a title for a mount that has
    no source yet (so the first one, set as the encoder connects, would be lost): the latest
    title per mount is kept and retried until icecast2 takes it. A restarted icecast2 forgets
    titles, so the current ones are said again every `refresh_s`."""

    base_url: str
    user: str
    password: str
    retry_s: float = 2.0
    refresh_s: float = 30.0
    pending: dict[str, str] = field(default_factory=dict)
    current: dict[str, str] = field(default_factory=dict)
    _client: httpx.AsyncClient | None = None

    async def set(self, mount: str, title: str) -> None:
        self.pending[mount] = self.current[mount] = title
        await self._flush()

    async def _flush(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0)
        for mount, title in list(self.pending.items()):
            try:
                await update_title(
                    self.base_url, mount, title, self.user, self.password, client=self._client
                )
            except IcecastAdminError as e:
                log.info(
                    "title not taken yet; will retry", extra={"mount": mount, "why": e.message}
                )
                continue
            if self.pending.get(mount) == title:
                del self.pending[mount]

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        refreshed = loop.time()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.retry_s)
            if loop.time() - refreshed >= self.refresh_s:
                refreshed = loop.time()
                self.pending.update(self.current)
            if self.pending:
                await self._flush()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
