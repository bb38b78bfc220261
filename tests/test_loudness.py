"""The loudness gain rule that the radio's engines and TV packaging share."""

from __future__ import annotations

import pytest

from media.loudness import gain_db
from playout import liquidsoap_engine, radio


@pytest.mark.parametrize(
    ("lufs", "peak"), [(-30.0, -20.0), (-10.0, -0.5), (-20.0, -2.0), (None, None), (-14.0, None)]
)
def test_the_gain_is_the_one_the_radio_applies(lufs: float | None, peak: float | None) -> None:
    assert gain_db(lufs, peak) == radio.gain_db(lufs, peak) == liquidsoap_engine.gain_db(lufs, peak)
