"""The true-peak limiter, alone: under the ceiling whatever comes, never louder than what it
was given, and late by exactly its delay."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playout.limiter import TAPS, TruePeakLimiter, block_peaks, true_peaks
from playout.mixer import SAMPLES_PER_MS


def music_like(seed: int, seconds: float, level: float) -> np.ndarray:
    """Decaying noise hits over a bed, band-limited as a master is (FFT low-pass at 16 kHz)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 48000)
    t = np.arange(n) / 48000
    hits = rng.standard_normal(n) * np.exp(-40 * np.mod(t, 0.37)) + 0.1 * rng.standard_normal(n)
    spectrum = np.fft.rfft(hits)
    spectrum[np.fft.rfftfreq(n, 1 / 48000) > 16000] = 0
    mono = np.fft.irfft(spectrum, n) * level
    return np.stack([mono, 0.8 * mono], axis=1).astype(np.float32)


def true_peak_db(x: np.ndarray) -> float:
    """8× oversampled by FFT: an estimate independent of the limiter's own interpolator."""
    up = max(float(np.max(np.abs(np.fft.irfft(np.fft.rfft(c), len(c) * 8) * 8))) for c in x.T)
    return 20 * np.log10(up)


def through(limiter: TruePeakLimiter, x: np.ndarray, sizes: list[int]) -> np.ndarray:
    out, i, k = [], 0, 0
    while i < len(x):
        n = sizes[k % len(sizes)] * SAMPLES_PER_MS
        out.append(limiter.process(x[i : i + n]))
        i, k = i + n, k + 1
    return np.concatenate(out)[: len(x)]


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    level_db=st.floats(-6, 18),
    sizes=st.lists(st.integers(1, 250), min_size=1, max_size=5),
)
def test_the_line_stays_under_the_ceiling_and_is_only_ever_turned_down(
    seed: int, level_db: float, sizes: list[int]
) -> None:
    x = music_like(seed, 2.0, 10 ** (level_db / 20) * 0.3)
    limiter = TruePeakLimiter(-2.0)
    y = through(limiter, x, sizes)
    d = limiter.delay
    assert true_peak_db(y) <= -2.0 + 0.2  # the interpolator's estimate, within 0.2 dB
    # Late by exactly `delay`, and only ever turned down.
    loud = np.abs(x[:-d]) > 1e-3
    ratio = y[d:][loud] / x[:-d][loud]
    assert float(ratio.min()) >= 0 and float(ratio.max()) <= 1.0 + 1e-5


def test_quiet_material_goes_through_untouched_and_blocks_must_be_whole_milliseconds() -> None:
    x = music_like(7, 1.0, 0.02)
    limiter = TruePeakLimiter(-1.0)
    y = through(limiter, x, [100])
    assert np.allclose(y[limiter.delay :], x[: -limiter.delay], atol=1e-7)
    assert limiter.deepest_db == 0.0
    with pytest.raises(ValueError, match="whole milliseconds"):
        limiter.process(x[:47])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), stretches=st.integers(1, 40), hf=st.floats(0.0, 1.0))
def test_the_limiter_s_peak_meter_is_the_plain_convolution_stretch_by_stretch(
    seed: int, stretches: int, hf: float
) -> None:
    """The limiter reads true peaks by shifted multiply-adds over the block; they must be
    those of the plain convolution over each channel (near-Nyquist content included, where
    the points between samples rise highest), carried across blocks by the history."""
    rng = np.random.default_rng(seed)
    n = stretches * SAMPLES_PER_MS
    nyquist = np.where(np.arange(n) % 2, 1.0, -1.0)[:, None]
    block = (rng.normal(0, 0.3, (n, 2)) * (1 - hf) + hf * 0.8 * nyquist).astype(np.float32)
    history = rng.normal(0, 0.3, (TAPS, 2)).astype(np.float32)
    plain = np.max([true_peaks(block[:, c], history[:, c]) for c in range(2)], axis=0)
    expected = plain.reshape(-1, SAMPLES_PER_MS).max(axis=1)
    assert np.allclose(block_peaks(block, history), expected, rtol=1e-5, atol=1e-6)
