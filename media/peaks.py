"""Waveform peaks of a media item: the lowest and highest sample of each 1/50 s of its sound,
mono, for an editor's waveform view.

`peaks_args` builds the ffmpeg run (decode to mono 16-bit at 8 kHz on stdout), `PeakMeter` is
the pure part that turns those samples into peaks a chunk at a time, and `measure_peaks` the
thin shell that runs one into the other. Nothing of the decoded sound is kept beyond one chunk,
so a six-hour programme costs a few megabytes of peaks and no more.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path

from media.binaries import Tools
from media.containers import input_args
from media.errors import MediaError

PEAKS_PER_SECOND = 50
PEAK_RATE = 8000  # Hz: the waveform's shape, not its sound
BUCKET = PEAK_RATE // PEAKS_PER_SECOND  # samples a peak covers
CHUNK = BUCKET * 2 * 500  # bytes read at a time: ten seconds


@dataclass(frozen=True, slots=True)
class Peaks:
    duration_ms: int
    peaks_per_second: int
    peaks: tuple[tuple[float, float], ...]

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "duration_ms": self.duration_ms,
                "peaks_per_second": self.peaks_per_second,
                "peaks": self.peaks,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Peaks:
        d = json.loads(data)
        return cls(
            int(d["duration_ms"]),
            int(d["peaks_per_second"]),
            tuple((float(lo), float(hi)) for lo, hi in d["peaks"]),
        )


def peaks_args(ffmpeg: str, path: Path) -> list[str]:
    """The first audio stream, folded to mono 16-bit at PEAK_RATE, raw on stdout."""
    mono = ["-vn", "-map", "0:a:0", "-ac", "1", "-ar", str(PEAK_RATE)]
    return [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", *input_args(path), *mono,
            "-f", "s16le", "-c:a", "pcm_s16le", "pipe:1"]  # fmt: skip


class PeakMeter:
    """Mono 16-bit little-endian samples in, in chunks of any size; (min, max) per bucket
    out, as fractions of full scale (-1..1)."""

    def __init__(self) -> None:
        self._pending = b""
        self._peaks: list[tuple[float, float]] = []
        self._samples = 0

    def feed(self, data: bytes) -> None:
        data = self._pending + data
        whole = len(data) - len(data) % (BUCKET * 2)
        self._pending = data[whole:]
        samples = array("h")
        samples.frombytes(data[:whole])
        if sys.byteorder == "big":
            samples.byteswap()
        self._add(samples)

    def _add(self, samples: array[int]) -> None:
        self._samples += len(samples)
        for i in range(0, len(samples), BUCKET):
            bucket = samples[i : i + BUCKET]
            self._peaks.append((round(min(bucket) / 32768, 4), round(max(bucket) / 32767, 4)))

    def finish(self) -> Peaks:
        rest = self._pending[: len(self._pending) - len(self._pending) % 2]
        self._pending = b""
        if rest:
            samples = array("h")
            samples.frombytes(rest)
            if sys.byteorder == "big":
                samples.byteswap()
            self._add(samples)
        return Peaks(self._samples * 1000 // PEAK_RATE, PEAKS_PER_SECOND, tuple(self._peaks))


async def measure_peaks(tools: Tools, path: Path) -> Peaks:
    """Decode the first audio stream and measure its peaks; a file without sound has none."""
    proc = await asyncio.create_subprocess_exec(
        *peaks_args(tools.ffmpeg, path),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    meter = PeakMeter()

    async def read_samples() -> None:
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(CHUNK):
            meter.feed(chunk)

    try:
        _, stderr = await asyncio.gather(read_samples(), proc.stderr.read())
        code = await proc.wait()
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    text = stderr.decode("utf-8", "replace").strip()
    if code != 0 and "matches no streams" in text:
        return Peaks(0, PEAKS_PER_SECOND, ())
    if code != 0:
        last = text.splitlines()[-1] if text else f"exit status {code}"
        raise MediaError(f"its sound could not be decoded for the waveform: {last}")
    return meter.finish()
