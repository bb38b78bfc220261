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


def _fade_spans(p: Placement, offset: int, n: int) -> tuple[int, int]:
    """(head, tail) for samples offset..offset+n of an item: [0, head) lie in its fade in,
    [tail, n) in its fade out, and between them only the gain applies. Most blocks touch no
    fade at all (head 0, tail n); when the two fades meet or overlap inside the block, the
    whole of it is shaped (head = tail = n)."""
    head = min(max(p.fade_in - offset, 0), n) if p.fade_in > 0 else 0
    tail = min(max(p.length - p.fade_out - offset, 0), n) if p.fade_out > 0 else n
    return (n, n) if head >= tail else (head, tail)


def _shaped(p: Placement, offset: int, n: int) -> npt.NDArray[np.float32]:
    """The equal-power formula itself, sample by sample: worked out only where a fade is."""
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


def envelope(p: Placement, offset: int, n: int) -> npt.NDArray[np.float32]:
    """Gain for samples offset..offset+n of an item: its gain, shaped by equal-power fades,
    so a crossfade keeps the power constant (sin² + cos² = 1)."""
    head, tail = _fade_spans(p, offset, n)
    env = np.full(n, p.gain, dtype=np.float32)
    if head:
        env[:head] = _shaped(p, offset, head)
    if tail < n:
        env[tail:] = _shaped(p, offset + tail, n - tail)
    return env


def mix_into(out: Block, out_start: int, p: Placement, samples: Block, offset: int) -> None:
    """Add item samples [offset, offset+len(samples)) at their place in `out` (which begins
    at line position out_start).

    The same sums as `out += samples * envelope(...)`, sample for sample, but the fade curves
    are worked out only inside the fades; elsewhere the gain is one scalar multiply (none at
    unity gain). This is the hot loop of render mode."""
    n = len(samples)
    if n == 0:
        return
    at = p.start + offset - out_start
    dst = out[at : at + n]
    head, tail = _fade_spans(p, offset, n)
    if head:
        dst[:head] += samples[:head] * _shaped(p, offset, head)[:, None]
    if tail < n:
        dst[tail:] += samples[tail:] * _shaped(p, offset + tail, n - tail)[:, None]
    if head < tail:
        gain = np.float32(p.gain)  # what envelope() holds between the fades
        if gain == 1.0:
            dst[head:tail] += samples[head:tail]
        else:
            dst[head:tail] += samples[head:tail] * gain


def to_s16(block: Block) -> bytes:
    """Clipped to 16 bits. Scaling by 2¹⁵ first and clipping after is exact (a power of two)
    and needs one float temporary instead of two."""
    scaled = np.multiply(block, 32768.0, dtype=np.float32)
    np.clip(scaled, -32768.0, 32767.0, out=scaled)
    return scaled.astype("<i2").tobytes()


def from_s16(data: bytes) -> Block:
    block = np.frombuffer(data, dtype="<i2").astype(np.float32)
    block /= 32768.0
    return block.reshape(-1, CHANNELS)


def silence(n: int) -> Block:
    return np.zeros((n, CHANNELS), dtype=np.float32)
