"""Mixing: the samples of timeline items laid on one continuous PCM line.

Pure over NumPy arrays: each item's decoded samples come in, gain and envelopes are applied,
overlaps (crossfades) are summed, and 16-bit PCM comes out. Positions are sample counts at
48 kHz, integers from end to end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

RATE = 48_000
CHANNELS = 2
SAMPLES_PER_MS = RATE // 1000
Block = npt.NDArray[np.float32]  # shape (n, 2)


def ms_to_samples(ms: int) -> int:
    return ms * SAMPLES_PER_MS


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an item's audio sits on the output line, in samples from the line's origin."""

    start: int  # first sample of its audio
    length: int  # samples of audio (its slot plus the crossfade into the next item)
    fade_in: int  # samples of equal-power fade in (a crossfade from the previous item)
    fade_out: int  # samples of fade out at its end (crossfade out, or a cut's fade)
    gain: float  # linear

    @property
    def end(self) -> int:
        return self.start + self.length


def envelope(p: Placement, offset: int, n: int) -> npt.NDArray[np.float32]:
    """Gain for samples offset..offset+n of an item: its gain, shaped by equal-power fades,
    so a crossfade keeps the power constant (sin² + cos² = 1)."""
    idx = np.arange(offset, offset + n, dtype=np.float64)
    env = np.full(n, p.gain, dtype=np.float64)
    if p.fade_in > 0:
        x = np.clip(idx / p.fade_in, 0.0, 1.0)
        env *= np.where(idx < p.fade_in, np.sin(x * np.pi / 2), 1.0)
    if p.fade_out > 0:
        start = p.length - p.fade_out
        x = np.clip((idx - start) / p.fade_out, 0.0, 1.0)
        env *= np.where(idx >= start, np.cos(x * np.pi / 2), 1.0)
    return env.astype(np.float32)


def mix_into(out: Block, out_start: int, p: Placement, samples: Block, offset: int) -> None:
    """Add item samples [offset, offset+len(samples)) at their place in `out` (which begins
    at line position out_start)."""
    n = len(samples)
    if n == 0:
        return
    at = p.start + offset - out_start
    out[at : at + n] += samples * envelope(p, offset, n)[:, None]


def to_s16(block: Block) -> bytes:
    clipped = np.clip(block, -1.0, 32767 / 32768)
    return (clipped * 32768.0).astype("<i2").tobytes()


def from_s16(data: bytes) -> Block:
    return (np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0).reshape(-1, CHANNELS)


def silence(n: int) -> Block:
    return np.zeros((n, CHANNELS), dtype=np.float32)
