"""Loudness gain: measured once at ingest, applied at playout. Pure arithmetic."""

from __future__ import annotations

import math

from media.packaging import gain_db

__all__ = ["gain_db", "linear"]


def linear(db: float) -> float:
    return math.pow(10.0, db / 20.0)
