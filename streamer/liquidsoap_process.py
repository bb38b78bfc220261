"""The Liquidsoap process: `liquidsoap <script>` started, watched and stopped, with its
output read for track changes and a client connected once its server answers.

Apart from the script and the client because only this part owns a child process; the
engine (playout/liquidsoap_engine.py) restarts it through here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
from collections import deque
from pathlib import Path

from station.logs import redact
from streamer.liquidsoap_client import LiquidsoapClient, LiquidsoapError
from streamer.liquidsoap_script import (
    LiquidsoapConfig,
    TrackChange,
    parse_track_line,
    render_script,
)

log = logging.getLogger(__name__)


class LiquidsoapProcess:
    """`liquidsoap <script>` as a child process, with a connected client.

    Every stdout/stderr line is logged at debug level; the track hook's lines become
    `TrackChange`s on `tracks` (bounded: the oldest is dropped when nobody reads).
    `stop()` always reaps the child: terminate, then kill after `stop_timeout`.
    """

    def __init__(
        self,
        cfg: LiquidsoapConfig,
        *,
        binary: str = "liquidsoap",
        script_path: Path | None = None,
        startup_timeout: float = 20.0,
        stop_timeout: float = 5.0,
        track_backlog: int = 256,
    ) -> None:
        self.cfg = cfg
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.tracks: asyncio.Queue[TrackChange] = asyncio.Queue(maxsize=track_backlog)
        self._script_path = script_path
        self._temp_dir: Path | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._tail: deque[str] = deque(maxlen=40)
        self._client: LiquidsoapClient | None = None

    @property
    def client(self) -> LiquidsoapClient:
        if self._client is None:
            raise LiquidsoapError("Liquidsoap is not running")
        return self._client

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc is not None else None

    @property
    def script_path(self) -> Path | None:
        return self._script_path

    def recent_output(self) -> list[str]:
        """The last lines Liquidsoap printed, for error messages."""
        return list(self._tail)

    async def __aenter__(self) -> LiquidsoapProcess:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> LiquidsoapClient:
        if self._proc is not None:
            raise LiquidsoapError("Liquidsoap is already started")
        script = render_script(self.cfg)
        if self._script_path is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix="diaspor-liquidsoap-"))
            self._script_path = self._temp_dir / "radio.liq"
        # The script holds the Icecast passwords: readable by us only.
        fd = os.open(self._script_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(script)
        if self.cfg.socket_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.cfg.socket_path.unlink()  # a stale socket from a crashed run
        try:
            self._proc = await asyncio.create_subprocess_exec(
                self.binary,
                str(self._script_path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            self._remove_temp_dir()
            raise LiquidsoapError(f"cannot run {self.binary}: {exc}") from exc
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._readers = [
            asyncio.create_task(self._read(self._proc.stdout, "stdout")),
            asyncio.create_task(self._read(self._proc.stderr, "stderr")),
        ]
        log.info(
            "started liquidsoap",
            extra={"pid": self._proc.pid, "script": str(self._script_path)},
        )
        try:
            self._client = await self._wait_for_server()
        except BaseException:
            await self.stop()
            raise
        return self._client

    async def _wait_for_server(self) -> LiquidsoapClient:
        assert self._proc is not None
        cfg = self.cfg
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.startup_timeout
        while True:
            if self._proc.returncode is not None:
                await asyncio.gather(*self._readers, return_exceptions=True)
                raise LiquidsoapError(
                    f"Liquidsoap exited with status {self._proc.returncode} before its "
                    f"server answered: " + " | ".join(self.recent_output()[-8:])
                )
            client = (
                LiquidsoapClient(path=cfg.socket_path)
                if cfg.socket_path is not None
                else LiquidsoapClient(port=cfg.port, host=cfg.host)
            )
            try:
                await client.connect()
                await client.version()
                return client
            except LiquidsoapError:
                await client.close()
            if loop.time() > deadline:
                raise LiquidsoapError(
                    f"Liquidsoap's server at {client.address} did not answer within "
                    f"{self.startup_timeout} s: " + " | ".join(self.recent_output()[-8:])
                )
            await asyncio.sleep(0.1)

    async def _read(self, stream: asyncio.StreamReader, name: str) -> None:
        pid = self._proc.pid if self._proc is not None else None
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line longer than the buffer: skip it
                continue
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            track = parse_track_line(line)
            if track is not None:
                self._publish(track)
                continue
            # Kept for errors and logged: without the output passwords Liquidsoap may print.
            line = redact(line)
            self._tail.append(line)
            log.debug("liquidsoap output", extra={"pid": pid, "stream": name, "line": line})

    def _publish(self, track: TrackChange) -> None:
        log.info(
            "liquidsoap track started",
            extra={"rid": track.rid, "item": track.item, "title": track.title},
        )
        if self.tracks.full():
            dropped = self.tracks.get_nowait()
            log.warning("track change not read in time, dropped", extra={"rid": dropped.rid})
        self.tracks.put_nowait(track)

    async def stop(self) -> int | None:
        """Close the client, end the process and reap it; its exit status."""
        proc = self._proc
        try:
            if self._client is not None:
                client, self._client = self._client, None
                await client.close()
            if proc is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    async with asyncio.timeout(self.stop_timeout):
                        await proc.wait()
                except TimeoutError:
                    log.warning(
                        "liquidsoap did not stop in time, killing it",
                        extra={"pid": proc.pid, "timeout": self.stop_timeout},
                    )
        finally:
            if proc is not None:
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
                readers, self._readers = self._readers, []
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(2.0):
                        await asyncio.gather(*readers, return_exceptions=True)
                for task in readers:
                    task.cancel()
                log.info(
                    "liquidsoap stopped", extra={"pid": proc.pid, "returncode": proc.returncode}
                )
            self._remove_temp_dir()
        return proc.returncode if proc is not None else None

    def _remove_temp_dir(self) -> None:
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
            self._script_path = None
