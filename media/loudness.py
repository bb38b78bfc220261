"""Loudness gain: measured once at ingest, applied at playout. Pure arithmetic.

One rule for every place sound is levelled: the radio's engines apply it to each item as it
airs, TV packaging bakes it into an asset's sound once. It lives here, under both, so that
an item is as loud on the radio as in a TV package.
"""

from __future__ import annotations

import math


def gain_db(
    loudness_lufs: float | None,
    true_peak_dbtp: float | None,
    target_lufs: float = -16.0,
    max_true_peak_dbtp: float = -1.0,
) -> float:
    """The gain that brings an item to the target loudness without its true peak passing the
    ceiling; an item never measured (silence, a slate) is left as it is."""
    if loudness_lufs is None:
        return 0.0
    gain = target_lufs - loudness_lufs
    if true_peak_dbtp is not None:
        gain = min(gain, max_true_peak_dbtp - true_peak_dbtp)
    return gain


def linear(db: float) -> float:
    return math.pow(10.0, db / 20.0)
