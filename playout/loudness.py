"""Loudness gain: measured once at ingest, applied at playout. Pure arithmetic."""

from __future__ import annotations

import math


def gain_db(
    loudness_lufs: float | None,
    true_peak_dbtp: float | None,
    target_lufs: float = -16.0,
    max_true_peak_dbtp: float = -1.0,
) -> float:
    """The gain that brings an item to the target loudness without its true peak passing the
    ceiling. An item that was never measured (silence, a slate) is left as it is."""
    if loudness_lufs is None:
        return 0.0
    gain = target_lufs - loudness_lufs
    if true_peak_dbtp is not None:
        gain = min(gain, max_true_peak_dbtp - true_peak_dbtp)
    return gain


def linear(db: float) -> float:
    return math.pow(10.0, db / 20.0)
