"""The channel's true-peak limiter: the last thing before the encoders.

Each item is brought to the channel's loudness target by its own gain; items with high peaks
for their loudness (drums, a hot master) would then pass the ceiling, and so would a
presenter levelled live. The limiter keeps the line's true peak under the ceiling instead of
turning those items down, so they reach the target too.

How: the true peak of each sample is estimated by 4× oversampling (a windowed-sinc
interpolator, as BS.1770's meter does), giving the gain each millisecond (a stretch of 48
samples) may have at most. Looking `lookahead_ms` ahead, the gain falls before a peak
arrives: a moving minimum over the look-ahead and a hold, then a moving average as long as
the look-ahead, which by construction never rises above the gain any sample needs. Between
stretches the gain is interpolated linearly, still never above what either stretch needs.
The line comes out `delay` samples late (7 ms); the engine renders that much ahead, so that
nothing moves on the air.

Pure: blocks in, blocks out, its state the samples it holds back.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from playout.mixer import CHANNELS, SAMPLES_PER_MS, Block

STRETCH = SAMPLES_PER_MS  # samples that share one gain value: a millisecond
OVERSAMPLE = 4
TAPS = 12  # per phase of the interpolator
# Sample peaks this far below the ceiling cannot have a true peak above it in music
# (inter-sample overs are within about 3 dB); such stretches skip the oversampling.
SAFE_DB = 4.0


def _interpolator() -> npt.NDArray[np.float64]:
    """(OVERSAMPLE - 1, TAPS) windowed-sinc filters for the points between samples."""
    k = np.arange(TAPS) - TAPS // 2 + 1
    rows = []
    for p in range(1, OVERSAMPLE):
        x = k - p / OVERSAMPLE
        window = 0.5 + 0.5 * np.cos(np.pi * x / (TAPS / 2 + 1))
        h = np.sinc(x) * window
        rows.append(h / h.sum())
    return np.array(rows)


FILTERS = _interpolator().astype(np.float32)


def true_peaks(
    x: npt.NDArray[np.float32], history: npt.NDArray[np.float32]
) -> npt.NDArray[np.float64]:
    """Per sample of x (one channel), the largest magnitude of it and of the points
    interpolated around it; `history` holds the TAPS samples before x. (The limiter's own
    is `block_peaks`, per stretch; this one, a plain convolution, is what it must agree
    with.)"""
    padded = np.concatenate([history, x]).astype(np.float64)
    peak = np.abs(x).astype(np.float64)
    for h in FILTERS.astype(np.float64):
        # Each interpolated point lies between two samples; it counts for the later one.
        y = np.convolve(padded, h[::-1], mode="valid")  # len(x) + 1 points
        np.maximum(peak, np.abs(y[-len(x) :]), out=peak)
    return peak


def block_peaks(block: Block, history: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The true peak of each stretch of `block`, both channels: its samples and the points
    interpolated before each one, from the TAPS samples up to it (`history`, (TAPS,
    CHANNELS), holds those before the block). The filters run as TAPS shifted
    multiply-adds over the whole block, which NumPy does at memory speed."""
    n = len(block)
    padded = np.concatenate([history, block])
    peak = np.abs(block)
    point, term = np.empty_like(block), np.empty_like(block)  # no allocation per tap
    for phase in FILTERS:
        np.multiply(padded[1 : 1 + n], phase[0], out=point)
        for k in range(1, TAPS):
            np.multiply(padded[k + 1 : k + 1 + n], phase[k], out=term)
            point += term
        np.maximum(peak, np.abs(point, out=point), out=peak)
    stretches: npt.NDArray[np.float32] = peak.reshape(-1, STRETCH * CHANNELS).max(axis=1)
    return stretches


class TruePeakLimiter:
    """See the module docstring. Blocks must be whole milliseconds (as the engine's are)."""

    def __init__(
        self,
        ceiling_dbtp: float = -1.0,
        *,
        lookahead_ms: int = 5,
        hold_ms: int = 10,
    ) -> None:
        self.set_ceiling(ceiling_dbtp)
        self.ahead = max(1, lookahead_ms)  # stretches
        self.hold = max(1, hold_ms)
        # Samples the line comes out late: the look-ahead, a stretch for the ramp to the next
        # one, and one for the interpolator placing a peak up to TAPS/2 samples late.
        self.delay = (self.ahead + 2) * STRETCH
        # Input not yet out, from the stretch `out` on: silence before the start.
        self._input: Block = np.zeros((self.delay, CHANNELS), dtype=np.float32)
        # Gains needed by stretches from out - hold on (1: nothing to hold down).
        self._needed = np.ones(self.hold + self.ahead + 2)
        self._minima = np.ones(self.ahead)  # the `ahead` minima before `out`
        self._last = 1.0  # the gain at the end of the last stretch out
        self._history = np.zeros((TAPS, CHANNELS), dtype=np.float32)
        self.deepest_db = 0.0  # the most the line was turned down, for the log

    def set_ceiling(self, ceiling_dbtp: float) -> None:
        self.ceiling_dbtp = ceiling_dbtp
        self.ceiling = 10 ** (ceiling_dbtp / 20)

    def _needed_of(self, block: Block) -> npt.NDArray[np.float64]:
        """The gain each stretch of `block` needs. A block whose sample peak stays SAFE_DB
        under the ceiling is not oversampled: none of it needs turning down."""
        loudest = float(np.abs(block).max())
        if loudest * 10 ** (SAFE_DB / 20) < self.ceiling:
            peaks = np.abs(block).reshape(-1, STRETCH * CHANNELS).max(axis=1)
        else:
            peaks = block_peaks(block, self._history)
        self._history = block[-TAPS:].copy()
        needed: npt.NDArray[np.float64] = np.minimum(
            1.0, self.ceiling / np.maximum(peaks.astype(np.float64), 1e-12)
        )
        return needed

    def process(self, block: Block) -> Block:
        """The limited line, `delay` samples late: as many samples as came in."""
        n = len(block)
        if n % STRETCH:
            raise ValueError(f"the limiter takes whole milliseconds, not {n} samples")
        if n == 0:
            return block
        self._input = np.concatenate([self._input, block])
        needed = np.concatenate([self._needed, self._needed_of(block)])
        m = n // STRETCH  # stretches that can go out now
        # A stretch's gain may be at most the least any stretch needs from `hold` before
        # it to `ahead` + 2 after it...
        span = self.hold + self.ahead + 3
        minima = np.lib.stride_tricks.sliding_window_view(needed, span).min(axis=1)[:m]
        # ...averaged with the `ahead` before it: never above what it itself needs, nor
        # what the stretch after it needs (the gain runs linearly from one to the next).
        both = np.concatenate([self._minima, minima])
        gains = np.lib.stride_tricks.sliding_window_view(both, self.ahead + 1).mean(axis=1)
        starts = np.concatenate([[self._last], gains[:-1]])
        ramp = np.arange(STRETCH) / STRETCH
        g = (starts[:, None] + (gains - starts)[:, None] * ramp[None, :]).reshape(-1)
        out: Block = (self._input[:n] * g[:, None]).astype(np.float32)
        self._input = self._input[n:]
        self._needed = needed[m:]
        self._minima = both[-self.ahead :]
        self._last = float(gains[-1])
        least = float(g.min())
        if least < 1.0:
            self.deepest_db = min(self.deepest_db, 20 * math.log10(max(least, 1e-6)))
        return out
