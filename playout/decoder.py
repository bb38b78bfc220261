"""Decoding one timeline item to PCM with ffmpeg, read by the mixer exactly as it needs it.

Each item gets its own ffmpeg, started ahead of time, writing 32-bit float stereo at 48 kHz
trimmed to the item's cue points (sample-exact `atrim` after resampling). A file that is
missing or cannot be decoded is known before its slot begins, so the engine can put filler
in its place.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from pathlib import Path

import numpy as np

from media.containers import input_args
from media.process import end_process
from playout.asrun import Outcome
from playout.mixer import CHANNELS, RATE, SAMPLES_PER_MS, Block, silence
from station.logs import redact

log = logging.getLogger(__name__)
FRAME_BYTES = 4 * CHANNELS  # f32le stereo
SEEK_SLACK_MS = 10_000  # below this, decode from the start and trim: exact for every codec
# How far a decoder may run ahead of the mixer: a 1 MiB pipe (Linux's limit without
# privileges) plus up to twice the reader's limit buffered here, ~8 s of f32 stereo. With
# asyncio's defaults (64 KiB pipe, 64 KiB limit) ffmpeg could run only ~0.5 s ahead, and in
# render mode the reader paused and resumed the pipe ~6 times per second of audio: a third
# of the engine's own CPU went to that.
PIPE_BYTES = 1 << 20
READ_LIMIT = 1 << 20
MAX_RESTARTS = 20  # a decoder that dies this often in one item is given up: filler


def decode_args(
    ffmpeg: str, source: str, start_ms: int, length_ms: int, *, loop: bool, gapless: bool = False
) -> list[str]:
    """Arguments for ffmpeg to write samples [start_ms, start_ms + length_ms) of a file."""
    pre_ms = 0 if start_ms < SEEK_SLACK_MS else start_ms - 2000  # seek near, then trim exactly
    trim_from = (start_ms - pre_ms) * SAMPLES_PER_MS
    trim_to = trim_from + length_ms * SAMPLES_PER_MS
    # gapless: silences are taken out (a looped filler would otherwise go quiet each turn).
    quiet = (
        "silenceremove=start_periods=1:start_threshold=-50dB:stop_periods=-1:"
        "stop_duration=0.05:stop_threshold=-50dB,"
        if gapless
        else ""
    )
    args = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error"]
    if loop:
        args += ["-stream_loop", "-1"]
    if pre_ms:
        args += ["-ss", f"{pre_ms / 1000:.3f}"]
    args += [
        *input_args(source),
        "-map",
        "0:a:0",
        "-vn",
        "-sn",
        "-dn",
        "-af",
        f"aresample={RATE},{quiet}atrim=start_sample={trim_from}:end_sample={trim_to}",
        "-ac",
        str(CHANNELS),
        "-ar",
        str(RATE),
        "-f",
        "f32le",
        "pipe:1",
    ]
    return args


class ItemReader:
    """Samples of one item, in order. Short files are padded with silence; `failure` says
    why nothing could be decoded (missing, corrupt)."""

    def __init__(
        self,
        ffmpeg: str,
        source: str | None,
        start_ms: int,
        length_ms: int,
        *,
        loop: bool = False,
        gapless: bool = False,
    ) -> None:
        self.ffmpeg = ffmpeg
        self.source = source
        self.start_ms = start_ms
        self.length = length_ms * SAMPLES_PER_MS
        self.loop = loop
        self.gapless = gapless
        self.proc: asyncio.subprocess.Process | None = None
        self._stdout: asyncio.StreamReader | None = None
        self._pipe: asyncio.ReadTransport | None = None
        self.read_samples = 0
        self.failure: Outcome | None = None
        self.short = False
        self._first: bytes = b""
        self._stderr_task: asyncio.Task[bytes] | None = None
        self.restarts = 0

    async def open(self, probe_samples: int = RATE // 4) -> None:
        """Start decoding and read a little, so a broken file is known now."""
        if self.source is None:
            return  # silence
        if "://" not in self.source and not Path(self.source).is_file():
            self.failure = Outcome.MISSING
            return
        await self._spawn(self.start_ms, self.length)
        want = min(probe_samples, self.length) * FRAME_BYTES
        self._first = await self._read_bytes(want)
        if not self._first and want > 0:
            assert self.proc is not None and self._stderr_task is not None
            await self.proc.wait()
            err = (await self._stderr_task).decode("utf-8", "replace").strip().splitlines()
            self.failure = Outcome.CORRUPT
            log.warning(
                "cannot decode item",
                extra={
                    "source": redact(self.source),
                    "error": redact(err[-1]) if err else "no audio",
                },
            )

    async def _spawn(self, start_ms: int, length: int) -> None:
        assert self.source is not None
        args = decode_args(
            self.ffmpeg,
            self.source,
            start_ms,
            length // SAMPLES_PER_MS,
            loop=self.loop,
            gapless=self.gapless,
        )
        # Our own pipe for the samples, so it can be made larger than asyncio's default.
        rfd, wfd = os.pipe()
        try:
            with contextlib.suppress(OSError):  # at the default size it still works
                fcntl.fcntl(wfd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
            self.proc = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=wfd,
                stderr=asyncio.subprocess.PIPE,
            )
        except BaseException:
            os.close(rfd)
            raise
        finally:
            os.close(wfd)
        loop = asyncio.get_running_loop()
        stdout = self._stdout = asyncio.StreamReader(limit=READ_LIMIT, loop=loop)
        pipe = open(rfd, "rb", buffering=0)  # noqa: SIM115 (its transport closes it)
        try:
            self._pipe, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(stdout, loop=loop), pipe
            )
        except BaseException:
            pipe.close()
            raise
        assert self.proc.stderr is not None
        self._stderr_task = asyncio.ensure_future(self.proc.stderr.read())

    async def _broke(self) -> bool:
        """Did the decoder stop before the item's end because something went wrong (killed
        by a signal, the file's server gone), rather than because the file ended?"""
        if self.proc is None:
            return False
        try:
            code = await asyncio.wait_for(self.proc.wait(), 0.5)
        except TimeoutError:
            return False
        return code != 0

    async def _restart(self, done: int) -> bool:
        """Decode again from `done` samples in; False if that cannot be done."""
        self.restarts += 1
        log.warning(
            "decoder stopped mid-item; starting it again where it was",
            extra={
                "source": redact(self.source or ""),
                "at_ms": done // SAMPLES_PER_MS,
                "exit": self.proc.returncode if self.proc else None,
            },
        )
        await self._reap()
        if self.restarts > MAX_RESTARTS:
            self.failure = Outcome.CORRUPT
            return False
        start = 0 if self.loop else self.start_ms + done // SAMPLES_PER_MS
        rest = self.length if self.loop else self.length - done
        try:
            await self._spawn(start, rest)
        except OSError as exc:
            log.error("decoder cannot be started", extra={"error": str(exc)})
            self.failure = Outcome.CORRUPT
            return False
        return True

    async def _read_bytes(self, n: int) -> bytes:
        assert self._stdout is not None
        try:
            return await self._stdout.readexactly(n)
        except asyncio.IncompleteReadError as exc:
            return exc.partial

    async def read(self, n: int) -> Block:
        """The next n samples (silence past the end of the file)."""
        if self.proc is None or self.failure:
            self.read_samples += n
            return silence(n)
        want = n * FRAME_BYTES
        if self._first:  # what open() read: the first block or two of an item
            data, self._first = self._first[:want], self._first[want:]
            if len(data) < want:
                data += await self._read_bytes(want - len(data))
        else:
            data = await self._read_bytes(want)
        got = len(data) // FRAME_BYTES
        if got * FRAME_BYTES < len(data):
            data = data[: got * FRAME_BYTES]  # a torn last frame at the end of a file
        done, empty = self.read_samples + got, 0
        while got < n and done < self.length and await self._broke():
            if not await self._restart(done):
                break
            more = await self._read_bytes((n - got) * FRAME_BYTES)
            more = more[: len(more) // FRAME_BYTES * FRAME_BYTES]
            empty = 0 if more else empty + 1
            if empty >= 2:  # it starts, but gives nothing from here: give it up
                self.failure = Outcome.CORRUPT
                break
            data += more
            got, done = got + len(more) // FRAME_BYTES, done + len(more) // FRAME_BYTES
        # A read-only view of the bytes as read, not a copy: the mixer only reads it.
        block = np.frombuffer(data, dtype="<f4").reshape(-1, CHANNELS)
        if self.failure:  # broken for good: the samples it gave; the engine fills the rest
            self.read_samples += got
            return block
        self.read_samples += n
        if got < n:
            self.short = True
            block = np.concatenate([block, silence(n - got)])
        return block

    async def close(self) -> None:
        await self._reap()

    async def _reap(self) -> None:
        if self._pipe is not None:
            self._pipe.close()  # samples not read by now are not wanted
        if self.proc is not None:
            await end_process(self.proc)
        if self._stderr_task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._stderr_task, 5)
