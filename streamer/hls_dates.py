"""The radio's HLS playlists, dated by the air.

ffmpeg dates a live playlist's segments (EXT-X-PROGRAM-DATE-TIME) from the moment its HLS
muxer started, read from the wall clock, so every date is up to a second or two off the
moment the audio is on air, and a player that shows now-playing by the dates shows it early
or late. The encoder names a run's segments by the on-air time of its first sample
(`seg-<start_ms>-<n>.ts`, see streamer/encoder.py), so each segment's date is that start
plus the durations of the run's segments before it. The durations are ffmpeg's EXTINF,
taken as whole samples at 48 kHz (the AAC frames they hold), and summed as integers: exact
however long the run, and the same in every rung of a ladder (`streamer/hls_ladder.py`),
whose muxers each took their own wall-clock moment but cut at the same frames, so a player
finds segment n of each rung at the same date. Where a segment before it was never seen
(the playlist's window slid past while nobody looked), the date is the start plus ffmpeg's
date less ffmpeg's date of segment 0; a run whose segment 0 was not seen either (it started
after the segment left ffmpeg's window) keeps ffmpeg's dates, and the log says so.

ffmpeg writes each playlist under a private name (`ENCODER_PLAYLIST`); `HlsDates` writes the
public one (`index.m3u8`) from it, redated, each time it changes (a temporary file renamed,
so a player never reads half of it). With a ladder it does so for each rung, and writes the
master playlist once every rung's public playlist is there, so a player that reads the
master finds what it names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from media.hls import program_date_time
from streamer.encoder import PLAYLIST_NAME

log = logging.getLogger(__name__)

ENCODER_PLAYLIST = "encoder.live"  # ffmpeg's own playlist: not a *.m3u8, so never served
PUBLIC_PLAYLIST = PLAYLIST_NAME
RATE = 48_000  # the radio's HLS audio: every segment is whole AAC frames at 48 kHz
_DATE = "#EXT-X-PROGRAM-DATE-TIME:"
_EXTINF = "#EXTINF:"
_RUN = re.compile(r"^seg\d*-(\d+)-(\d+)\.ts$")
Segment = tuple[int, int]  # (the run's start_ms, n)


def _when(value: str) -> float:
    return datetime.fromisoformat(value.strip()).timestamp()


def run_of(uri: str) -> Segment | None:
    """(start_ms, n) of a run's segment name, or None."""
    found = _RUN.match(uri.rsplit("/", 1)[-1])
    return (int(found.group(1)), int(found.group(2))) if found else None


def entries(text: str) -> list[tuple[float | None, int | None, str]]:
    """(ffmpeg's date as epoch seconds, duration in samples, URI) of each segment named."""
    out: list[tuple[float | None, int | None, str]] = []
    date: float | None = None
    samples: int | None = None
    for line in text.splitlines():
        if line.startswith(_DATE):
            date = _when(line[len(_DATE) :])
        elif line.startswith(_EXTINF):
            samples = round(float(line[len(_EXTINF) :].split(",", 1)[0]) * RATE)
        elif line and not line.startswith("#"):
            out.append((date, samples, line.strip()))
            date = samples = None
    return out


def first_dates(text: str) -> dict[int, float]:
    """ffmpeg's date of segment 0 of each run the playlist still names."""
    out: dict[int, float] = {}
    for date, _, uri in entries(text):
        run = run_of(uri)
        if run is not None and run[1] == 0 and date is not None:
            out[run[0]] = date
    return out


def air_offsets(
    text: str, known: Mapping[Segment, int], firsts: Mapping[int, float]
) -> dict[Segment, int]:
    """`known` with what the playlist adds: where each segment begins in its run, in samples
    from the run's first. Segment 0 at 0; each next one where the one before began plus its
    duration; one whose predecessor was not seen, at ffmpeg's date less ffmpeg's date of the
    run's segment 0 (`firsts`)."""
    out = dict(known)
    for date, samples, uri in entries(text):
        seg = run_of(uri)
        if seg is None:
            continue
        start, n = seg
        if seg not in out:
            if n == 0:
                out[seg] = 0
            elif date is not None and start in firsts:
                out[seg] = round((date - firsts[start]) * RATE)
            else:
                continue
        if samples is not None:
            out[(start, n + 1)] = out[seg] + samples
    return out


def redated(text: str, offsets: Mapping[Segment, int]) -> tuple[str, set[int]]:
    """The playlist with each segment's date moved to the air's: its run's start plus its
    offset (`air_offsets`), to the millisecond. Returns the text, and the runs left on
    ffmpeg's dates (where their segments begin unknown)."""
    lines = text.splitlines()
    undated: set[int] = set()
    for i, line in enumerate(lines):
        if not line.startswith(_DATE):
            continue
        uri = next((u for u in lines[i + 1 :] if u and not u.startswith("#")), "")
        seg = run_of(uri)
        if seg is None:
            continue
        if seg not in offsets:
            undated.add(seg[0])
            continue
        at_ms = seg[0] + (offsets[seg] * 1000 + RATE // 2) // RATE
        lines[i] = _DATE + program_date_time(at_ms)
    return "\n".join(lines) + "\n", undated


def write_atomically(path: Path, text: str) -> None:
    """Written under a temporary name in the same folder and renamed: never seen half."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class HlsDates:
    """Keeps each public playlist in `folder` as ffmpeg's, redated (see the module's text):
    `playlists` are (ffmpeg's, public) names; `master`, when given, is written beside them
    once all of them are there."""

    def __init__(
        self,
        folder: Path,
        *,
        playlists: Sequence[tuple[str, str]] = ((ENCODER_PLAYLIST, PUBLIC_PLAYLIST),),
        master: tuple[str, str] | None = None,  # (name, text)
        every_s: float = 0.25,
    ) -> None:
        self.folder = folder
        self.every_s = every_s
        self.playlists = tuple(playlists)
        self.master = master
        self._master_written = False
        # Per ffmpeg playlist: its runs' segment-0 dates, where its segments begin in their
        # runs, and the text last redated.
        self.firsts: dict[str, dict[int, float]] = {name: {} for name, _ in self.playlists}
        self.offsets: dict[str, dict[Segment, int]] = {name: {} for name, _ in self.playlists}
        self._written: dict[str, str] = {}
        self._warned: set[tuple[str, int]] = set()

    def once(self) -> bool:
        """One look at every playlist; True when a public one was written."""
        wrote = False
        for source, public in self.playlists:
            wrote = self._redate(source, public) or wrote
        every_rung = all(source in self._written for source, _ in self.playlists)
        if self.master is not None and not self._master_written and every_rung:
            name, text = self.master
            write_atomically(self.folder / name, text)
            self._master_written = True
        return wrote

    def _redate(self, source: str, public: str) -> bool:
        try:
            text = (self.folder / source).read_text(encoding="utf-8")
        except FileNotFoundError:
            return False
        if text == self._written.get(source):
            return False
        firsts = {**self.firsts[source], **first_dates(text)}
        offsets = air_offsets(text, self.offsets[source], firsts)
        out, undated = redated(text, offsets)
        for run in undated:
            if (source, run) in self._warned:
                continue
            self._warned.add((source, run))
            log.warning(
                "radio HLS: the encoder run's first segment was not seen; its dates are "
                "ffmpeg's (they may be a second or more off the air)",
                extra={"folder": str(self.folder), "playlist": public, "run": run},
            )
        write_atomically(self.folder / public, out)
        self._written[source] = text
        # What is still needed: the runs the playlist names, from its oldest segment of each.
        oldest: dict[int, int] = {}
        for seg in (run_of(uri) for _, _, uri in entries(text)):
            if seg is not None:
                oldest[seg[0]] = min(seg[1], oldest.get(seg[0], seg[1]))
        self.firsts[source] = {k: v for k, v in firsts.items() if k in oldest}
        self.offsets[source] = {
            (start, n): at
            for (start, n), at in offsets.items()
            if start in oldest and n >= oldest[start]
        }
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
