"""Artwork: the cover embedded in an audio file, or a poster frame taken from a video."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from media.binaries import Tools
from media.containers import input_args
from media.errors import UnusableMedia
from media.probe import ProbeResult
from media.process import run_tool

log = logging.getLogger(__name__)
MAX_EDGE = 1280
Picture = Literal["video", "cover"]


def picture_of(probe: ProbeResult) -> Picture | None:
    """Which picture a file can give: frames of its video, or an embedded cover."""
    if probe.main_video is not None:
        return "video"
    if probe.cover_art is not None:
        return "cover"
    return None


def poster_time_ms(duration_ms: int | None) -> int:
    """A tenth of the way in, at most 5 s: past fades from black, early enough to be typical."""
    if not duration_ms:
        return 0
    return min(duration_ms // 10, 5000)


def artwork_args(
    ffmpeg: str, src: Path, dest: Path, picture: Picture, duration_ms: int | None
) -> list[str]:
    scale = f"scale='min({MAX_EDGE},iw)':'-2'"
    head = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-y"]
    tail = ["-frames:v", "1", "-vf", scale, "-q:v", "3", "-f", "image2", "-c:v", "mjpeg", str(dest)]
    if picture == "video":
        at = poster_time_ms(duration_ms) / 1000
        return [*head, "-ss", f"{at:.3f}", *input_args(src), "-map", "0:v:0", *tail]
    # The cover is the first video stream of an audio file.
    return [*head, *input_args(src), "-map", "0:v:0", *tail]


async def extract_artwork(
    tools: Tools, src: Path, dest: Path, picture: Picture, duration_ms: int | None
) -> bool:
    """Write a JPEG to dest; False (and nothing written) when ffmpeg could not."""
    res = await run_tool(artwork_args(tools.ffmpeg, src, dest, picture, duration_ms), timeout=120)
    if not res.ok or not dest.exists() or dest.stat().st_size == 0:
        log.warning(
            "could not extract artwork",
            extra={"file": src.name, "error": res.last_error_line()},
        )
        dest.unlink(missing_ok=True)
        return False
    return True


# The images an editor may give as artwork, and the ffmpeg demuxer that alone may read each.
IMAGE_TYPES = {"image/jpeg": ("jpeg_pipe", ".jpg"), "image/png": ("png_pipe", ".png"),
               "image/webp": ("webp_pipe", ".webp")}  # fmt: skip


def image_check_args(ffmpeg: str, path: Path, mime: str) -> list[str]:
    """Decode the one picture, as the format it claims to be and no other."""
    demuxer = IMAGE_TYPES[mime][0]
    return [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", *input_args(path, demuxer=demuxer),
            "-map", "0:v:0", "-frames:v", "1", "-f", "framemd5", "-"]  # fmt: skip


async def check_image(tools: Tools, path: Path, mime: str) -> None:
    """Refuse what is not a whole picture of the type it claims (UnusableMedia)."""
    res = await run_tool(image_check_args(tools.ffmpeg, path, mime))
    frames = [ln for ln in res.stdout.decode("utf-8", "replace").splitlines() if ln[:1].isdigit()]
    if not res.ok or res.stderr.strip() or len(frames) != 1:
        why = res.last_error_line() if res.stderr.strip() or not res.ok else "no picture in it"
        raise UnusableMedia(f"the image is not a whole {mime.removeprefix('image/')}: {why}")
