"""Copying a live HLS folder that ffmpeg writes on local disk into storage (S3 in
production), so nginx or a CDN serves it from the bucket.

Each pass uploads new segments first and the playlist after them, so a player never reads
a playlist naming a segment that is not there yet; segments that have left the playlist are
deleted a little later (players may still be fetching them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from media.storage import Storage

log = logging.getLogger(__name__)


def playlist_segments(text: str) -> list[str]:
    """The segment URIs a media playlist names, in order."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


class HlsMirror:
    def __init__(
        self, folder: Path, storage: Storage, prefix: str, *, every_s: float = 1.0, keep: int = 6
    ) -> None:
        self.folder = folder
        self.storage = storage
        self.prefix = prefix.rstrip("/")
        self.every_s = every_s
        self.keep = keep  # segments kept in storage after they leave the playlist
        self.uploaded: dict[str, float] = {}  # file name -> mtime uploaded
        self.retired: list[str] = []

    def sync_once(self) -> int:
        """One pass; returns how many files went up."""
        sent = 0
        playlists = sorted(self.folder.glob("*.m3u8"))
        named: set[str] = set()
        texts: dict[Path, str] = {}
        for pl in playlists:
            with contextlib.suppress(FileNotFoundError):
                texts[pl] = pl.read_text(encoding="utf-8")
                named.update(playlist_segments(texts[pl]))
        for name in sorted(named):
            path = self.folder / name
            if name in self.uploaded or not path.is_file():
                continue
            self.storage.put_file(f"{self.prefix}/{name}", path)
            self.uploaded[name] = path.stat().st_mtime
            sent += 1
        for pl, text in texts.items():
            self.storage.put_bytes(
                f"{self.prefix}/{pl.name}",
                text.encode(),
                "application/vnd.apple.mpegurl",
                durable=False,
            )
            sent += 1
        gone = [n for n in self.uploaded if n not in named and n not in self.retired]
        self.retired += gone
        while len(self.retired) > self.keep:
            old = self.retired.pop(0)
            self.uploaded.pop(old, None)
            self.storage.delete(f"{self.prefix}/{old}")
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.sync_once)
            except Exception as exc:  # storage briefly away: next pass tries again
                log.warning(
                    "HLS copy to storage failed; retrying",
                    extra={"prefix": self.prefix, "error": str(exc)},
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_s)
