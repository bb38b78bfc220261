"""The mixer's gain envelope, mixing and 16-bit conversion, checked against the plain formula
sample by sample: equal-power fades (gain·sin(x·π/2) in, gain·cos(x·π/2) out) that start and
end on the exact samples, however the line is cut into blocks."""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from playout.mixer import Placement, envelope, from_s16, mix_into, to_s16

F32 = npt.NDArray[np.float32]


def expected_gain(p: Placement, i: int) -> float:
    """The gain of sample i of an item, straight from the definition."""
    g = p.gain
    if p.fade_in > 0 and i < p.fade_in:
        g *= math.sin(i / p.fade_in * math.pi / 2)
    start = p.length - p.fade_out
    if p.fade_out > 0 and i >= start:
        g *= math.cos((i - start) / p.fade_out * math.pi / 2)
    return g


def expected_envelope(p: Placement, offset: int, n: int) -> F32:
    return np.array([expected_gain(p, i) for i in range(offset, offset + n)], dtype=np.float32)


def assert_same_gains(got: F32, want: F32) -> None:
    """Equal up to float32 rounding: at most one unit in the last place apart."""
    assert got.dtype == np.float32
    assert got.shape == want.shape
    np.testing.assert_array_max_ulp(got, want, maxulp=1)


def test_a_block_clear_of_fades_gets_the_items_gain_and_nothing_else() -> None:
    p = Placement(start=0, length=10_000, fade_in=1000, fade_out=2000, gain=0.3)
    env = envelope(p, 1000, 7000)  # from the first sample after the fade in to the fade out
    assert np.all(env == np.float32(0.3))


def test_fade_in_starts_silent_and_reaches_full_gain_on_the_sample_after_it() -> None:
    p = Placement(start=0, length=10_000, fade_in=1000, fade_out=0, gain=0.5)
    env = envelope(p, 0, 1001)
    assert env[0] == 0.0
    assert env[1] == np.float32(0.5 * math.sin(1 / 1000 * math.pi / 2))
    assert 0 < env[999] < np.float32(0.5)  # the fade's last sample is still fading
    assert env[999] == np.float32(0.5 * math.sin(999 / 1000 * math.pi / 2))
    assert env[1000] == np.float32(0.5)
    assert np.all(np.diff(env) > 0)


def test_fade_out_begins_at_full_gain_and_its_last_sample_is_nearly_silent() -> None:
    p = Placement(start=0, length=10_000, fade_in=0, fade_out=1000, gain=1.7)
    env = envelope(p, 8990, 1010)
    assert np.all(env[:11] == np.float32(1.7))  # 8990..9000: sample 9000 is cos(0)
    assert env[11] == np.float32(1.7 * math.cos(1 / 1000 * math.pi / 2))
    assert env[-1] == np.float32(1.7 * math.cos(999 / 1000 * math.pi / 2))
    assert 0 < env[-1] < 0.003
    assert np.all(np.diff(env[10:]) < 0)


@pytest.mark.parametrize("gain", [1.0, 0.25, 2.5])
@pytest.mark.parametrize(
    ("offset", "n"),
    [
        (0, 1),  # the first sample alone
        (0, 4800),  # exactly the fade in
        (4799, 2),  # the fade in's last sample and the first at full gain
        (4700, 300),  # straddles the end of the fade in
        (4800, 100),  # starts right after the fade in
        (10_000, 10_000),  # no fade at all
        (40_199, 2),  # the last sample at full gain and the fade out's first
        (40_000, 600),  # straddles the start of the fade out
        (40_200, 7800),  # exactly the fade out
        (47_999, 1),  # the last sample alone
        (0, 48_000),  # the whole item: both fades and the middle in one block
        (2000, 45_000),  # both fades cut part way
    ],
)
def test_envelope_matches_the_formula_at_fade_edges(gain: float, offset: int, n: int) -> None:
    p = Placement(start=96_000, length=48_000, fade_in=4800, fade_out=7800, gain=gain)
    assert_same_gains(envelope(p, offset, n), expected_envelope(p, offset, n))


@pytest.mark.parametrize("gain", [1.0, 0.6])
def test_a_short_item_whose_fades_overlap_gets_both_at_once(gain: float) -> None:
    """A jingle shorter than its crossfades: the fade out starts before the fade in ends,
    and the samples in both get gain·sin·cos."""
    p = Placement(start=0, length=1000, fade_in=700, fade_out=600, gain=gain)
    whole = envelope(p, 0, 1000)
    assert_same_gains(whole, expected_envelope(p, 0, 1000))
    both = slice(400, 700)
    i = np.arange(400, 700)
    want = gain * np.sin(i / 700 * np.pi / 2) * np.cos((i - 400) / 600 * np.pi / 2)
    np.testing.assert_allclose(whole[both], want, rtol=1e-6)
    assert whole.max() < gain * 0.9  # never reaches full gain
    for offset, n in [(0, 400), (399, 2), (450, 100), (699, 2), (650, 350), (999, 1)]:
        assert_same_gains(envelope(p, offset, n), expected_envelope(p, offset, n))


@given(
    length=st.integers(1, 3000),
    fade_in=st.integers(0, 3500),
    fade_out=st.integers(0, 3500),
    gain=st.one_of(st.just(1.0), st.floats(0.001, 8.0)),
    cuts=st.lists(st.integers(1, 2999), max_size=6),
)
def test_cutting_an_item_into_blocks_anywhere_gives_the_formulas_envelope(
    length: int, fade_in: int, fade_out: int, gain: float, cuts: list[int]
) -> None:
    p = Placement(0, length, min(fade_in, length), min(fade_out, length), gain)
    want = expected_envelope(p, 0, length)
    edges = sorted({0, length, *(c for c in cuts if c < length)})
    got = np.concatenate([envelope(p, a, b - a) for a, b in itertools.pairwise(edges)])
    assert_same_gains(got, want)


def test_mixing_adds_the_enveloped_samples_at_the_items_place_block_by_block() -> None:
    """An item mixed into a line in blocks whose edges fall inside and across its fades
    comes out as samples × envelope, added to what was already there."""
    rng = np.random.default_rng(7)
    p = Placement(start=1500, length=6000, fade_in=900, fade_out=1300, gain=0.8)
    samples = rng.uniform(-1, 1, (p.length, 2)).astype(np.float32)
    samples.flags.writeable = False  # as the decoder hands them over (np.frombuffer)
    bed = rng.uniform(-0.1, 0.1, (9000, 2)).astype(np.float32)
    line = bed.copy()
    block = 1000  # line blocks of 1000 samples: item edges and fade edges fall mid-block
    for a in range(0, len(line), block):
        lo, hi = max(a, p.start), min(a + block, p.end)
        if lo < hi:
            out = line[a : a + block]
            mix_into(out, a, p, samples[lo - p.start : hi - p.start], lo - p.start)
    want = bed.copy()
    want[p.start : p.end] += samples * expected_envelope(p, 0, p.length)[:, None]
    np.testing.assert_allclose(line, want, rtol=1e-6, atol=1e-7)
    assert np.array_equal(line[: p.start], bed[: p.start])  # nothing before the item
    assert np.array_equal(line[p.end :], bed[p.end :])  # nor after it


def test_at_unity_gain_without_fades_the_samples_are_added_exactly() -> None:
    rng = np.random.default_rng(3)
    samples = rng.uniform(-1, 1, (500, 2)).astype(np.float32)
    out = rng.uniform(-1, 1, (800, 2)).astype(np.float32)
    want = out.copy()
    want[100:600] += samples
    mix_into(out, 0, Placement(start=0, length=5000, fade_in=0, fade_out=0, gain=1.0), samples, 100)
    assert np.array_equal(out, want)


def test_a_crossfade_keeps_the_power_constant() -> None:
    """The outgoing item's fade out and the incoming item's fade in over the same samples:
    sin² + cos² = 1 on every one of them."""
    fade = 3000
    a = Placement(start=0, length=10_000, fade_in=0, fade_out=fade, gain=1.0)
    b = Placement(start=10_000 - fade, length=10_000, fade_in=fade, fade_out=0, gain=1.0)
    out_env = envelope(a, a.length - fade, fade).astype(np.float64)
    in_env = envelope(b, 0, fade).astype(np.float64)
    np.testing.assert_allclose(out_env**2 + in_env**2, 1.0, atol=1e-6)


def test_16_bit_output_is_clipped_and_truncated_like_the_plain_formula() -> None:
    block = np.array(
        [
            [0.0, -0.0],
            [1.0, -1.0],
            [2.0, -2.0],
            [0.5, -0.5],
            [32767 / 32768, -32768 / 32768],
            [1.9 / 32768, -1.9 / 32768],
            [0.9999999, -0.9999999],
            [1e30, -1e30],
        ],
        dtype=np.float32,
    )
    got = np.frombuffer(to_s16(block), dtype="<i2").reshape(-1, 2)
    want = (np.clip(block, -1.0, 32767 / 32768) * 32768.0).astype("<i2")
    assert np.array_equal(got, want)
    assert got.tolist() == [
        [0, 0],
        [32767, -32768],
        [32767, -32768],
        [16384, -16384],
        [32767, -32768],
        [1, -1],
        [32767, -32767],
        [32767, -32768],
    ]


def test_every_16_bit_value_survives_a_round_trip_through_the_mixers_floats() -> None:
    pcm = np.arange(-32768, 32768, dtype="<i2").tobytes()
    block = from_s16(pcm)
    assert block.dtype == np.float32 and block.shape == (32768, 2)
    assert block.min() == -1.0 and block.max() == np.float32(32767 / 32768)
    assert to_s16(block) == pcm
