"""The fallback loop's parts that need no icecast2: the fallback mounts' names, the feeder's
ffmpeg arguments (the live mounts' encoding, looped in real time), and the default bed that
`diaspor fallback make` renders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from media.binaries import Tools
from playout.radio_channel import mounts_of
from streamer.encoder import encoder_args, icecast_output_args
from streamer.fallback_source import fallback_mount, loop_source_args
from streamer.outputs import IcecastOutput
from tests.air_check import decode
from tests.support import free_port, tone


def station_outputs(fallback: bool) -> list[IcecastOutput]:
    return [
        IcecastOutput(
            fallback_mount(m.path) if fallback else m.path,
            "p@ss/word",
            host="icecast",
            codec=m.codec,
            bitrate_kbps=m.bitrate_kbps,
        )
        for m in mounts_of("diaspor-fm", 128, 64)
    ]


def test_each_mount_has_a_fallback_named_beside_it_with_its_extension() -> None:
    assert [fallback_mount(m.path) for m in mounts_of("diaspor-fm", 128, 64)] == [
        "/diaspor-fm-fallback.mp3",
        "/diaspor-fm-fallback.aac",
        "/diaspor-fm-64-fallback.aac",
    ]
    assert fallback_mount("/diaspor-fm-live") == "/diaspor-fm-live-fallback"
    assert fallback_mount("/a.b/stream") == "/a.b/stream-fallback"


def test_the_loop_is_encoded_for_each_fallback_as_playout_encodes_its_live_mount() -> None:
    live = encoder_args("ffmpeg", list(station_outputs(False)), start_ms=0)
    args = loop_source_args("ffmpeg", "/var/lib/diaspor/loop.mp3", station_outputs(True))
    # Read in real time, over and over.
    assert args.index("-re") < args.index("-stream_loop") < args.index("-i")
    assert args[args.index("-stream_loop") + 1] == "-1"
    assert args[args.index("-i") + 1] == "/var/lib/diaspor/loop.mp3"
    urls = [a for a in args if a.startswith("icecast://")]
    assert urls == [
        "icecast://source:p%40ss%2Fword@icecast:8000/diaspor-fm-fallback.mp3",
        "icecast://source:p%40ss%2Fword@icecast:8000/diaspor-fm-fallback.aac",
        "icecast://source:p%40ss%2Fword@icecast:8000/diaspor-fm-64-fallback.aac",
    ]
    # The same codec options and bit rate as the live mount's; 48 kHz stereo, as playout's.
    for out, mine in zip(station_outputs(False), station_outputs(True), strict=True):
        theirs = icecast_output_args(out)[:-1]
        ours = icecast_output_args(mine)[:-1]
        assert ours == theirs
        at = args.index(mine.mount.join(["icecast://source:p%40ss%2Fword@icecast:8000", ""]))
        assert args[at - len(ours) : at] == ours
        assert args[at - len(ours) - 4 : at - len(ours)] == ["-ar", "48000", "-ac", "2"]
        assert "".join(theirs) in "".join(live)


@pytest.mark.slow
def test_fallback_make_renders_a_seamless_half_minute_of_music_bed(
    tmp_path: Path, tools: Tools
) -> None:
    dest = tmp_path / "fallback" / "diaspor-fm-loop.mp3"
    done = subprocess.run(
        [sys.executable, "-m", "diaspor", "fallback", "make", str(dest)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(dest)
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]  # no half-written file left
    assert tools.ffprobe is not None
    probe = json.loads(
        subprocess.run(
            [tools.ffprobe, "-v", "error", "-show_format", "-of", "json", str(dest)],
            capture_output=True,
            check=True,
        ).stdout
    )["format"]
    assert 29.5 < float(probe["duration"]) < 30.5
    assert probe["tags"]["title"] == "Diaspor.FM"
    pcm = decode(tools.ffmpeg, dest.read_bytes())
    second = 48_000
    # Music all through: no second of it near silence (a bed, not a gap).
    loudness = [
        float(np.sqrt(np.mean(pcm[i : i + second] ** 2))) for i in range(0, 29 * second, second)
    ]
    assert min(loudness) > 0.05, loudness
    # Looped, the end runs into the start without a jump: the step across the seam is no
    # bigger than steps inside the music.
    inside = float(np.max(np.abs(np.diff(pcm[second : 2 * second]))))
    seam = abs(float(pcm[0]) - float(pcm[-1]))
    assert seam <= 2 * inside, (seam, inside)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("password", "code", "says"),
    [
        ("CHANGE-ME-source-password", 2, "DIASPOR_SOURCE_PASSWORD is a known default"),
        ("a-source-password-of-our-own", None, "the fallback loop stopped"),
    ],
    ids=["placeholder-password", "icecast2-away"],
)
def test_the_feeder_refuses_a_placeholder_and_ends_when_icecast2_is_away(
    tmp_path: Path, tools: Tools, password: str, code: int | None, says: str
) -> None:
    """Compose starts it again when it ends; it must end, not hang, when icecast2 is away."""
    loop = tone(tools.ffmpeg, tmp_path / "ident.mp3", seconds=2, freq=880)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIASPOR_")}
    env |= {
        "DIASPOR_ICECAST_URL": f"http://127.0.0.1:{free_port()}",  # nobody listens there
        "DIASPOR_SOURCE_PASSWORD": password,
        "DIASPOR_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "diaspor", "fallback", "air", "--loop", str(loop)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if code is not None:
        assert done.returncode == code
    else:  # ffmpeg's own failure, neither success nor a refusal to start
        assert done.returncode not in (0, 2), done.returncode
    assert says in done.stderr + done.stdout, done.stderr[-2000:]
