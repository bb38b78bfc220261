"""Thumbnails: the grid of a package's sprite (`thumbs.jpg`, one tile every few seconds) and
the WebVTT track (`thumbs.vtt`) that names each tile's region for a player's scrub bar.

One sprite and one track cost a player two requests however long the asset; a long asset gets
a wider interval, so the sprite never holds more than `max_thumbs` tiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from media.ladder import PackagingOptions, ms_of
from media.webvtt import vtt_clock

THUMB_COLUMNS = 10


@dataclass(frozen=True, slots=True)
class ThumbGrid:
    every_frames: int
    count: int
    columns: int
    rows: int
    width: int
    height: int


def thumb_grid(total_frames: int, opts: PackagingOptions) -> ThumbGrid:
    every = opts.thumb_interval_s * opts.fps
    if math.ceil(total_frames / every) > opts.max_thumbs:
        every = math.ceil(total_frames / opts.max_thumbs)
    count = math.ceil(total_frames / every)
    columns = min(THUMB_COLUMNS, count)
    top = opts.top
    height = max(2, round(opts.thumb_width * top.height / top.width / 2) * 2)
    return ThumbGrid(every, count, columns, math.ceil(count / columns), opts.thumb_width, height)


def thumbs_vtt(grid: ThumbGrid, total_frames: int, fps: int, image: str = "thumbs.jpg") -> str:
    out = ["WEBVTT", ""]
    for i in range(grid.count):
        start = ms_of(i * grid.every_frames, fps)
        end = ms_of(min((i + 1) * grid.every_frames, total_frames), fps)
        row, col = divmod(i, grid.columns)
        xywh = f"{col * grid.width},{row * grid.height},{grid.width},{grid.height}"
        out += [f"{vtt_clock(start)} --> {vtt_clock(end)}", f"{image}#xywh={xywh}", ""]
    return "\n".join(out)
