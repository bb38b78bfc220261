"""What the fault tests use to break real parts and to watch from outside.

- `Proxy`: a TCP proxy in front of a server (the S3 server, PostgreSQL) that a test can cut:
  every connection through it is dropped and new ones are refused, as when the server goes
  away, until it is restored.
- `RadioListener`: a real listener on a mount (ffmpeg decoding what the relay sends), that
  measures the longest silence it heard and whether its connection held.
- `PlaylistWatcher`: a player's view of a TV variant playlist, read every second: the media
  and discontinuity sequence numbers it saw, in order.
- `HealthWatcher`: the playout process's own health answer, read every half second.
"""

from __future__ import annotations

import contextlib
import json
import re
import selectors
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Self

import httpx
import numpy as np

from tests.support import free_port


class Proxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._server: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._closed = False
        self._quiet = threading.Event()
        self.restore()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def restore(self) -> None:
        server = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self) -> None:
        """The server is gone: the listening socket stops (a thread blocked in accept() is
        woken, not left to take new connections), every connection is reset."""
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)
            server.close()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def quiet(self) -> None:
        """Nothing goes through any more, either way, and nothing is closed: the network
        between has gone silent (a partition, or a frozen peer), not refused."""
        self._quiet.set()

    def close(self) -> None:
        self._closed = True
        self.cut()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            if server is not self._server:  # cut meanwhile
                client.close()
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        try:
            sel.register(a, selectors.EVENT_READ, b)
            sel.register(b, selectors.EVENT_READ, a)
            while True:
                if self._quiet.is_set():
                    if a.fileno() < 0:  # cut meanwhile
                        return
                    time.sleep(0.05)
                    continue
                for key, _ in sel.select(timeout=1.0):
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = src.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            sel.close()
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()


@dataclass
class RadioListener:
    """ffmpeg listening to a mount as a player would, decoding to 8 kHz mono PCM."""

    ffmpeg: str
    url: str
    silence_dbfs: float = -50.0
    block_ms: int = 50
    blocks: list[float] = field(default_factory=list)  # peak level of each block, dBFS
    ended: bool = False
    said: list[str] = field(default_factory=list)  # what the listener's ffmpeg complained of
    _proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RadioListener:
        self._proc = subprocess.Popen(
            [
                self.ffmpeg,
                "-hide_banner",
                "-nostdin",
                "-v",
                "error",
                "-i",
                self.url,
                "-f",
                "s16le",
                "-ac",
                "1",
                "-ar",
                "8000",
                "pipe:1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.ended = False
        threading.Thread(target=self._read, args=(self._proc,), daemon=True).start()
        threading.Thread(target=self._errors, args=(self._proc,), daemon=True).start()
        return self

    def _errors(self, proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(OSError, ValueError, TypeError):
            for line in proc.stderr or ():
                self.said.append(line.decode("utf-8", "replace").strip())

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        n = 8 * self.block_ms * 2
        while True:
            try:
                data = proc.stdout.read(n) if proc.stdout else b""
            except (OSError, ValueError):  # closed by stop()
                data = b""
            if len(data) < n:
                if proc is self._proc:
                    self.ended = True
                return
            pcm = np.frombuffer(data, dtype="<i2").astype(np.float32)
            peak = float(np.max(np.abs(pcm))) / 32768.0
            self.blocks.append(20 * np.log10(max(peak, 1e-9)))

    @property
    def heard_s(self) -> float:
        return len(self.blocks) * self.block_ms / 1000

    def longest_silence_s(self, skip_s: float = 0.0) -> float:
        """The longest run of blocks below the threshold, after the first `skip_s` of audio."""
        longest = run = 0
        for level in self.blocks[int(skip_s * 1000 / self.block_ms) :]:
            run = run + 1 if level < self.silence_dbfs else 0
            longest = max(longest, run)
        return longest * self.block_ms / 1000

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            for pipe in (self._proc.stdout, self._proc.stderr):
                if pipe is not None:
                    pipe.close()


class Poller:
    """Something read on a thread every `every_s` until stopped."""

    every_s = 1.0

    def __init__(self) -> None:
        self._stop = threading.Event()

    def start(self) -> Self:
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.poll()

    def poll(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stop.set()


class PlaylistWatcher(Poller):
    """A TV variant playlist read every second, as a player reloads it."""

    def __init__(self, read: Callable[[], str | None]) -> None:
        super().__init__()
        self.read = read
        self.seen: list[tuple[float, int, int]] = []  # (time, mseq, dseq)

    def poll(self) -> None:
        try:
            text = self.read()
        except Exception:  # the storage it reads from may be away: a reload that fails
            return
        m = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text or "")
        d = re.search(r"#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)", text or "")
        if m:
            self.seen.append((time.monotonic(), int(m.group(1)), int(d.group(1)) if d else 0))

    def never_went_back(self) -> bool:
        return all(b[1] >= a[1] and b[2] >= a[2] for a, b in pairwise(self.seen))

    def advanced_after(self, t: float) -> bool:
        before = [s[1] for s in self.seen if s[0] <= t]
        after = [s[1] for s in self.seen if s[0] > t]
        return bool(before and after) and max(after) > max(before)


class HealthWatcher(Poller):
    """The playout process's own health answer, read every half second."""

    every_s = 0.5

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.answers: list[tuple[float, dict[str, object]]] = []

    def poll(self) -> None:
        with contextlib.suppress(httpx.HTTPError, json.JSONDecodeError):
            r = httpx.get(self.url, timeout=2)
            self.answers.append((time.monotonic(), r.json()))

    def degraded_parts(self) -> set[str]:
        """Every part the answer ever called degraded."""
        out: set[str] = set()
        for _, a in self.answers:
            parts = a.get("parts")
            if isinstance(parts, dict):
                out |= {n for n, p in parts.items() if p.get("status") == "degraded"}
        return out

    def last_status(self) -> object:
        return self.answers[-1][1].get("status") if self.answers else None

    def ok_again(self, within_s: float = 25.0) -> bool:
        """Health says "ok" again (a part is ok once it has run well for a while)."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if self.last_status() == "ok":
                return True
            time.sleep(0.5)
        return False

    def still_degraded(self) -> dict[str, object]:
        parts = self.answers[-1][1].get("parts") if self.answers else None
        if not isinstance(parts, dict):
            return {}
        return {n: p.get("reason") for n, p in parts.items() if p.get("status") != "ok"}
