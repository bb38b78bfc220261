"""The radio's HLS playlist, dated by the air.

ffmpeg dates a live playlist's segments (EXT-X-PROGRAM-DATE-TIME) from the whole second its
HLS muxer started, read from the wall clock, so every date is up to a second or two off the
moment the audio is on air, and a player that shows now-playing by the dates shows it early
or late. The dates are right relative to each other (ffmpeg adds the segments' durations), so
each encoder run needs one correction: the encoder names a run's segments by the on-air time
of its first sample (`seg-<start_ms>-<n>.ts`, see streamer/encoder.py), and every date of
the run moves by `start_ms` less the date ffmpeg gave its segment 0.

ffmpeg writes its playlist under a private name (`ENCODER_PLAYLIST`); `HlsDates` writes the
public one (`index.m3u8`) from it, redated, each time it changes (a temporary file renamed,
so a player never reads half of it). A run whose segment 0 it did not see (it started after
the segment left ffmpeg's window) keeps ffmpeg's dates, and the log says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from streamer.encoder import PLAYLIST_NAME

log = logging.getLogger(__name__)

ENCODER_PLAYLIST = "encoder.live"  # ffmpeg's own playlist: not a *.m3u8, so never served
PUBLIC_PLAYLIST = PLAYLIST_NAME
_DATE = "#EXT-X-PROGRAM-DATE-TIME:"
_RUN = re.compile(r"^seg-(\d+)-(\d+)\.ts$")


def _when(value: str) -> float:
    return datetime.fromisoformat(value.strip()).timestamp()


def run_of(uri: str) -> tuple[int, int] | None:
    """(start_ms, n) of a run's segment name, or None."""
    found = _RUN.match(uri.rsplit("/", 1)[-1])
    return (int(found.group(1)), int(found.group(2))) if found else None


def first_dates(text: str) -> dict[int, float]:
    """ffmpeg's date of segment 0 of each run the playlist still names."""
    out: dict[int, float] = {}
    date: float | None = None
    for line in text.splitlines():
        if line.startswith(_DATE):
            date = _when(line[len(_DATE) :])
        elif line and not line.startswith("#"):
            run = run_of(line)
            if run is not None and run[1] == 0 and date is not None:
                out[run[0]] = date
            date = None
    return out


def redated(text: str, firsts: Mapping[int, float]) -> tuple[str, set[int]]:
    """The playlist with each segment's date moved to the air's: its run's start plus
    ffmpeg's date less ffmpeg's date of the run's segment 0. Returns the text, and the runs
    left on ffmpeg's dates (their segment 0 unknown)."""
    lines = text.splitlines()
    undated: set[int] = set()
    for i, line in enumerate(lines):
        if not line.startswith(_DATE):
            continue
        uri = next((u for u in lines[i + 1 :] if u and not u.startswith("#")), "")
        run = run_of(uri)
        if run is None:
            continue
        if run[0] not in firsts:
            undated.add(run[0])
            continue
        at = run[0] / 1000 + _when(line[len(_DATE) :]) - firsts[run[0]]
        stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
        lines[i] = _DATE + stamp.replace("+00:00", "Z")
    return "\n".join(lines) + "\n", undated


class HlsDates:
    """Keeps `folder`/index.m3u8 as ffmpeg's playlist, redated (see the module's text)."""

    def __init__(self, folder: Path, *, every_s: float = 0.25) -> None:
        self.folder = folder
        self.every_s = every_s
        self.firsts: dict[int, float] = {}
        self._written = ""
        self._warned: set[int] = set()

    def once(self) -> bool:
        """One look; True when the public playlist was written."""
        try:
            text = (self.folder / ENCODER_PLAYLIST).read_text(encoding="utf-8")
        except FileNotFoundError:
            return False
        if text == self._written:
            return False
        self.firsts.update(first_dates(text))
        out, undated = redated(text, self.firsts)
        for run in undated - self._warned:
            self._warned.add(run)
            log.warning(
                "radio HLS: the encoder run's first segment was not seen; its dates are "
                "ffmpeg's (they may be a second or more off the air)",
                extra={"folder": str(self.folder), "run": run},
            )
        tmp = self.folder / f".{PUBLIC_PLAYLIST}.tmp"
        tmp.write_text(out, encoding="utf-8")
        os.replace(tmp, self.folder / PUBLIC_PLAYLIST)
        self._written = text
        keep = {r for r in (run_of(u) for u in text.splitlines()) if r is not None}
        self.firsts = {k: v for k, v in self.firsts.items() if k in {r[0] for r in keep}}
        return True

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.once)
            except OSError as exc:  # the disk full or away for a moment: next look
                log.warning(
                    "radio HLS playlist could not be written; retrying",
                    extra={"folder": str(self.folder), "error": str(exc)},
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_s)
