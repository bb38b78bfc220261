"""The station's offline work (probing, analysis, packaging) runs below the air: a long upload
packaged on the machine that plays out never takes the CPU the encoders need."""

from __future__ import annotations

import os

from media.process import OFFLINE_NICENESS, run_tool
from tests.support import need_program, run


def test_a_tool_runs_nicer_than_the_station_and_says_so_itself() -> None:
    sh = need_program("sh")
    # The tool reads its own niceness once it is under way, as ffmpeg's work threads are.
    res = run(run_tool([sh, "-c", "sleep 0.3; cut -d' ' -f19 /proc/self/stat"]))
    assert res.ok, res.stderr
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert int(res.stdout) == min(19, mine + OFFLINE_NICENESS)
