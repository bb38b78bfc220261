"""The TV ladder as settings give it."""

from __future__ import annotations

import pytest

from media.errors import MediaError
from media.ladder import PackagingOptions, Rung, parse_ladder
from station.settings import Settings


def test_a_ladder_is_read_from_settings_and_mistakes_are_named() -> None:
    settings = Settings(tv_ladder=["hd:1280x720:2500", "sd:640x360:700"], tv_segment_s=4)
    opts = PackagingOptions.from_settings(settings)
    assert opts.ladder == (Rung("hd", 1280, 720, 2500), Rung("sd", 640, 360, 700))
    assert (opts.gop, opts.top.name) == (100, "hd")
    for bad in ("720p:1280x720", "audio:640x360:700", "odd:641x360:700", "Büyük:640x360:700"):
        with pytest.raises(MediaError):
            parse_ladder([bad])
