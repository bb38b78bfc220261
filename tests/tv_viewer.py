"""A viewer of a live HLS channel, and what it saw: a thread follows one media playlist at the
live edge, noting when each segment first appears and fetching it; afterwards each run of
segments between two discontinuities is decoded whole (as a player's decoder receives it),
and laid on the player's timeline the way hls.js lays it.

The timeline. Content time is the sum of the EXTINF durations before a segment, counted from
the first segment the viewer took. After a discontinuity the timestamps start afresh: the
first segment of the run is placed at its content time, its earliest timestamp (audio or
video) on that instant, and every frame and sample of the run keeps its own timestamp's
distance from there (hls.js: `initPTS`, per discontinuity). Nothing is smoothed: a run whose
sound is late on its picture shows it. Where runs overlap, the later one's sound is kept, as
a Media Source buffer keeps what was appended last.
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import httpx
import numpy as np

from media.binaries import Tools
from media.segments import TS_HZ, probe_segment
from tests.support import run
from tests.test_sequencer import PSeg, parse_media
from tests.tv_support import CODE_PX, CODE_WIDTH, FPS, read_frame_codes

RATE = 48_000  # the ladder's sound
JOIN = 3  # segments from the live edge a player starts with (RFC 8216 §6.3.3)


@dataclass(frozen=True)
class Seen:
    seg: PSeg
    seen_s: float  # when it was first listed, from the viewer's start
    content_s: float  # where it begins on the viewer's timeline
    data: bytes


class Viewer(threading.Thread):
    """Follows a media playlist for `seconds`, reloading it every `poll_s`, fetching each
    new segment once. A sequence number skipped (slid out before it was seen) or a failed
    request is kept in `errors`."""

    def __init__(self, url: str, seconds: float, poll_s: float = 0.5) -> None:
        super().__init__(name="tv-viewer", daemon=True)
        self.url, self.seconds, self.poll_s = url, seconds, poll_s
        self.seen: list[Seen] = []
        self.errors: list[str] = []
        self.began = time.monotonic()
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join(30)

    def run(self) -> None:
        self.began = time.monotonic()
        end = self.began + self.seconds
        with httpx.Client(timeout=10) as client:
            while not self._halt.is_set() and time.monotonic() < end:
                try:
                    self._reload(client)
                except httpx.HTTPError as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                self._halt.wait(self.poll_s)

    def _reload(self, client: httpx.Client) -> None:
        r = client.get(self.url)
        if r.status_code != 200:
            self.errors.append(f"playlist HTTP {r.status_code}")
            return
        at = time.monotonic() - self.began
        segs = parse_media(r.text).segments
        if not self.seen:
            new = list(segs[-JOIN:])
        else:
            last = self.seen[-1].seg.seq
            new = [s for s in segs if s.seq > last]
            if new and new[0].seq != last + 1:
                self.errors.append(f"segments {last + 1}…{new[0].seq - 1} were never listed")
        for s in new:
            got = client.get(urljoin(self.url, s.uri))
            if got.status_code != 200:
                self.errors.append(f"segment {s.seq}: HTTP {got.status_code}")
            prev = self.seen[-1] if self.seen else None
            content = prev.content_s + float(prev.seg.duration) if prev else 0.0
            self.seen.append(Seen(s, at, content, got.content))


@dataclass
class Run:
    """Segments between two discontinuities, decoded, on the viewer's timeline."""

    segments: list[Seen]
    video_s: float  # the first frame's instant
    codes: np.ndarray  # the frame code read from each frame
    audio_s: float  # the first sample's instant
    sound: np.ndarray = field(repr=False)  # mono float samples at RATE

    @property
    def end_s(self) -> float:
        return self.video_s + len(self.codes) / FPS

    def frame_at(self, t: float) -> int:
        """The index of the frame on screen at instant t."""
        return int(np.floor((t - self.video_s) * FPS + 1e-9))


@dataclass
class Watched:
    runs: list[Run]
    sound: np.ndarray  # what the player hears, on the timeline
    seen: list[Seen]

    def sound_between(self, a: float, b: float) -> np.ndarray:
        return self.sound[max(0, round(a * RATE)) : round(b * RATE)]


def decode(tools: Tools, viewer: Viewer, folder: Path) -> Watched:
    folder.mkdir(parents=True, exist_ok=True)
    groups: list[list[Seen]] = []
    for s in viewer.seen:
        if not groups or s.seg.discontinuity:
            groups.append([])
        groups[-1].append(s)
    runs = [_decode_run(tools, g, folder / f"run-{i}") for i, g in enumerate(groups)]
    last = viewer.seen[-1]
    sound = np.zeros(round((last.content_s + float(last.seg.duration) + 1) * RATE), np.float32)
    for r in runs:  # later runs over earlier ones
        at = max(0, round(r.audio_s * RATE))
        part = r.sound[: len(sound) - at]
        sound[at : at + len(part)] = part
    return Watched(runs, sound, viewer.seen)


def _decode_run(tools: Tools, segments: list[Seen], stem: Path) -> Run:
    first = stem.with_suffix(".first.ts")
    first.write_bytes(segments[0].data)
    whole = stem.with_suffix(".ts")
    whole.write_bytes(b"".join(s.data for s in segments))
    probe = run(probe_segment(tools, first))
    assert probe.first_video_pts is not None and probe.audio_pts is not None, probe
    origin = min(probe.first_video_pts, probe.audio_pts)
    video, audio = stem.with_suffix(".gray"), stem.with_suffix(".f32")
    subprocess.run(
        [
            tools.ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(whole),
            "-map",
            "0:v:0",
            "-vf",
            f"crop={CODE_WIDTH}:{CODE_PX}:0:0",
            "-fps_mode",
            "passthrough",
            "-pix_fmt",
            "gray",
            "-f",
            "rawvideo",
            str(video),
            "-map",
            "0:a:0",
            "-ac",
            "1",
            "-f",
            "f32le",
            str(audio),
        ],
        check=True,
    )
    pixels = np.fromfile(video, np.uint8).reshape(-1, CODE_PX, CODE_WIDTH)
    at = segments[0].content_s
    return Run(
        segments,
        at + (probe.first_video_pts - origin) / TS_HZ,
        read_frame_codes(pixels),
        at + (probe.audio_pts - origin) / TS_HZ,
        np.fromfile(audio, np.float32),
    )


def tone_onsets(sound: np.ndarray) -> np.ndarray:
    """The instants (s) where a tone begins after silence, to the millisecond: the peak of
    each millisecond, held over four (a period of the lowest tone), crossing half the tone's
    level, with silence somewhere in the 80 ms before."""
    ms = RATE // 1000
    peak = np.abs(sound[: len(sound) // ms * ms]).reshape(-1, ms).max(axis=1)
    env = peak.copy()
    for k in range(1, 4):
        env[k:] = np.maximum(env[k:], peak[:-k])
    loud = float(np.percentile(env[env > 1e-3], 75)) if np.any(env > 1e-3) else 1.0
    up = np.flatnonzero((env[1:] >= loud / 2) & (env[:-1] < loud / 2)) + 1
    onsets: list[int] = []
    for i in up:
        quiet_before = i >= 90 and env[i - 90 : i - 10].min() < loud / 10
        if quiet_before and (not onsets or i - onsets[-1] > 200):
            onsets.append(int(i))
    return np.asarray(onsets, dtype=np.float64) / 1000
