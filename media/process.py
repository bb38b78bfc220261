"""Running ffmpeg-family tools: argument lists in, exit status, output and progress out.

Never a shell; the child is always reaped, also when the caller is cancelled. These are the
station's offline work (probing, analysis, packaging, artwork, generated media): they run at
OFFLINE_NICENESS, below the air's encoders and decoders, so that packaging a long upload on the
machine that plays out never takes the CPU the air needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger(__name__)
# ffmpeg catches SIGINT and SIGTERM, stops, and exits 255 after saying so.
_CAUGHT_SIGNAL = re.compile(r"received signal (\d+)")

ProgressCallback = Callable[[dict[str, str]], Awaitable[None] | None]
OFFLINE_NICENESS = 10  # added to the tool's scheduling niceness (0 normal, 19 the lowest)


@dataclass(frozen=True, slots=True)
class ToolResult:
    args: list[str]
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def signal(self) -> int | None:
        """The signal that stopped the tool, if one did: it then said nothing about its input."""
        if self.returncode < 0:
            return -self.returncode
        m = _CAUGHT_SIGNAL.search(self.stderr) if self.returncode == 255 else None
        return int(m.group(1)) if m else None

    def last_error_line(self) -> str:
        lines = [ln.strip() for ln in self.stderr.splitlines() if ln.strip()]
        return lines[-1] if lines else f"exit status {self.returncode}"


def parse_progress_block(lines: list[str]) -> dict[str, str]:
    """`-progress pipe:1` writes key=value lines; a block ends with progress=continue|end."""
    out: dict[str, str] = {}
    for ln in lines:
        key, sep, value = ln.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


class DecodedTime:
    """Follows `-progress` blocks: how far ffmpeg has decoded, in microseconds."""

    def __init__(self) -> None:
        self.us = 0

    def update(self, block: dict[str, str]) -> None:
        us = block.get("out_time_us", "")
        if us.lstrip("-").isdigit():
            self.us = max(self.us, int(us))


def lower_priority(pid: int, by: int = OFFLINE_NICENESS) -> None:
    """Set a child's niceness to this process's plus `by` (set at once after it starts, before
    it has made the threads that do its work, which take their niceness from it)."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + by))
    except (ProcessLookupError, PermissionError) as exc:  # it ended already; or not allowed
        log.debug("tool's priority left as it is", extra={"pid": pid, "reason": str(exc)})


async def run_tool(
    args: list[str],
    *,
    on_progress: ProgressCallback | None = None,
    timeout: float | None = None,
) -> ToolResult:
    """Run a tool; when `on_progress` is given, stdout is read as ffmpeg `-progress` blocks."""
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    lower_priority(proc.pid)
    assert proc.stdout is not None and proc.stderr is not None
    stdout_chunks: list[bytes] = []

    async def read_stdout() -> None:
        assert proc.stdout is not None
        if on_progress is None:
            stdout_chunks.append(await proc.stdout.read())
            return
        block: list[str] = []
        async for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            block.append(line)
            if line.startswith("progress="):
                result = on_progress(parse_progress_block(block))
                if asyncio.iscoroutine(result):
                    await result
                block = []

    try:
        async with asyncio.timeout(timeout):
            _, stderr = await asyncio.gather(read_stdout(), proc.stderr.read())
            await proc.wait()
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return ToolResult(
        args=args,
        returncode=proc.returncode,
        stdout=b"".join(stdout_chunks),
        stderr=stderr.decode("utf-8", "replace"),
    )


async def end_process(
    proc: asyncio.subprocess.Process,
    *,
    ask: Literal["eof", "terminate", "kill"] = "kill",
    grace_s: float = 5.0,
) -> int:
    """The one way a long-running child is stopped: asked (its stdin closed, so an encoder
    finishes what it holds; or SIGTERM, so a segmenter closes its last segment; or killed),
    given `grace_s` to go, then killed; always reaped, also when the caller is cancelled."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            if ask == "eof":
                if proc.stdin is not None and not proc.stdin.is_closing():
                    proc.stdin.close()
            elif ask == "terminate":
                proc.terminate()
            else:
                proc.kill()
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), grace_s)
        except TimeoutError:
            log.warning("process did not stop when asked; killed", extra={"pid": proc.pid})
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    return await proc.wait()
