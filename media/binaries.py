"""Finding ffmpeg and ffprobe: explicit setting, then the system's, then the imageio-ffmpeg wheel's.

The wheel ships ffmpeg only; without ffprobe the prober reads ffmpeg's own banner instead.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass

from media.errors import ToolMissing

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Tools:
    ffmpeg: str
    ffprobe: str | None  # None: probe by parsing `ffmpeg -i` output

    @property
    def source(self) -> str:
        return "wheel" if "imageio_ffmpeg" in self.ffmpeg else "system"


def _wheel_ffmpeg() -> str | None:
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        path: str = imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        return None
    return path


def find_tools(
    ffmpeg_path: str | None = None, ffprobe_path: str | None = None, *, use_system: bool = True
) -> Tools:
    """Resolve the binaries once at start-up. An empty ffprobe_path ("") disables ffprobe."""
    ffmpeg = ffmpeg_path or (shutil.which("ffmpeg") if use_system else None) or _wheel_ffmpeg()
    if not ffmpeg:
        raise ToolMissing(
            "ffmpeg was not found: install it (apt-get install ffmpeg) or the imageio-ffmpeg wheel"
        )
    if ffprobe_path == "":
        ffprobe = None
    else:
        ffprobe = ffprobe_path or (shutil.which("ffprobe") if use_system else None)
    tools = Tools(ffmpeg=ffmpeg, ffprobe=ffprobe)
    log.info(
        "using ffmpeg",
        extra={"ffmpeg": tools.ffmpeg, "ffprobe": tools.ffprobe or "(none: parsing ffmpeg output)"},
    )
    return tools
