"""Helpers the tests share: generating media with lavfi, servers on free ports, skips that CI
turns into failures."""

from __future__ import annotations

import asyncio
import http.server
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn

from media.process import lower_priority

T = TypeVar("T")
REQUIRE_ALL = os.environ.get("DIASPOR_TEST_REQUIRE_ALL") == "1"
XMLTV_DTD = Path("/usr/share/xmltv/xmltv.dtd")  # Debian's xmltv-util


def need(condition: bool, reason: str) -> None:
    """Skip when a system part is missing on a user's machine; in CI that is a failure."""
    if condition:
        return
    if REQUIRE_ALL:
        pytest.fail(f"required in CI (DIASPOR_TEST_REQUIRE_ALL=1): {reason}")
    pytest.skip(reason)


def need_program(name: str) -> str:
    path = shutil.which(name)
    need(path is not None, f"{name} is not installed (apt-get install {name})")
    assert path is not None
    return path


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from test code. Where this thread already runs an event loop
    (Playwright's sync API keeps one while a module's browser is open), on a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    results: list[T] = []
    errors: list[BaseException] = []

    def own_loop() -> None:
        try:
            results.append(asyncio.run(coro))
        except BaseException as e:  # handed back to the caller's thread
            errors.append(e)

    thread = threading.Thread(target=own_loop, name="test-run")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# Output options of the small test videos: H.264 as fast as it goes, AAC sound.
H264_AAC = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac")


def make_media(ffmpeg: str, dest: Path, *args: str) -> Path:
    """ffmpeg ARGS... dest, failing loudly; the one way tests create media."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-y", *args, str(dest)]
    with subprocess.Popen(cmd) as proc:
        lower_priority(proc.pid)  # offline work, as the station's own: below what is on air
        if proc.wait() != 0:
            raise subprocess.CalledProcessError(proc.returncode, cmd)
    return dest


# (title, sample rate, lavfi source, filter): music-like, not sines (tests/test_radio_loudness.py,
# bench/radio.py).
MATERIAL = [
    (
        "Nağara — drums",
        44100,
        "aevalsrc=exprs='0.9*sin(2*PI*55*t)*exp(-18*mod(t,0.5))"
        "+0.7*(random(0)*2-1)*exp(-45*mod(t+0.25,0.5))+0.03*(random(1)*2-1)':s=44100",
        "volume=1.0",
    ),
    (
        "Küy — noise bursts",
        48000,
        "anoisesrc=color=pink:sample_rate=48000:amplitude=0.9",
        "volume='if(lt(mod(t,0.5),0.125),1,0.12)':eval=frame",
    ),
    (
        "Dalğa — wide dynamics",
        44100,
        "anoisesrc=color=pink:sample_rate=44100:amplitude=0.5",
        "volume='if(lt(mod(t,0.5),0.25),1,0.05)':eval=frame",
    ),
    (
        "İsti master — hot",
        48000,
        "anoisesrc=color=brown:sample_rate=48000:amplitude=1.0",
        "volume=6dB,alimiter=limit=0.99:level=false",
    ),
    (
        # A quiet bed with a sharp hit every two seconds: its peaks, not its loudness, set
        # the gain that the old way allowed (about 6 dB short of the target).
        "Zərb — sparse hits",
        44100,
        "aevalsrc=exprs='0.08*(random(1)*2-1)+0.9*(random(0)*2-1)*exp(-300*mod(t,2))':s=44100",
        "lowpass=f=5000",
    ),
]


def music_like_input(
    i: int, seconds: float, *, rate: int | None = None, gain_db: float = 0
) -> list[str]:
    """ffmpeg arguments for `seconds` of MATERIAL[i] as a stereo input, filtered as masters
    are (nothing above 16 kHz), at `rate` (its own by default), `gain_db` louder."""
    _, own_rate, source, shape = MATERIAL[i]
    if gain_db:
        shape += f",volume={gain_db:g}dB"
    return [
        "-f",
        "lavfi",
        "-t",
        f"{seconds:g}",
        "-i",
        source,
        "-af",
        f"{shape},lowpass=f=16000,aformat=sample_rates={rate or own_rate}",
        "-ac",
        "2",
    ]


def tone(
    ffmpeg: str,
    dest: Path,
    *,
    seconds: float,
    freq: int = 440,
    lead: float = 0.0,
    tail: float = 0.0,
    volume: float = 0.5,
    tags: dict[str, str] | None = None,
    codec: tuple[str, ...] = ("-c:a", "libmp3lame", "-b:a", "128k"),
    sweep: float = 0.0,
) -> Path:
    """A sine tone with silence before and after, and tags; with `sweep`, a rising one (a
    chirp: freq + sweep·t Hz at t s, so what is heard says where in the file it is)."""
    meta: list[str] = []
    for k, v in (tags or {}).items():
        meta += ["-metadata", f"{k}={v}"]
    af = f"volume={volume},adelay={int(lead * 1000)}:all=1,apad=pad_dur={tail}"
    source = f"sine=f={freq}:sample_rate=48000:d={seconds}"
    if sweep:
        source = f"aevalsrc=exprs='sin(2*PI*({freq}*t+{sweep / 2}*t*t))':s=48000:d={seconds}"
    return make_media(
        ffmpeg,
        dest,
        "-f",
        "lavfi",
        "-i",
        source,
        "-af",
        af,
        "-ac",
        "2",
        *meta,
        *codec,
    )


def source_client(
    ffmpeg: str, url: str, *, seconds: float, freq: int = 1000, volume: float = 1.0
) -> list[str]:
    """A presenter's source client: ffmpeg sending a tone as MP3 to an icecast:// URL in
    real time, as BUTT would."""
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-re",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={freq}:sample_rate=44100",
        "-t",
        str(seconds),
        "-af",
        f"volume={volume}",
        "-ac",
        "2",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "128k",
        "-content_type",
        "audio/mpeg",
        "-f",
        "mp3",
        url,
    ]


def video_clip(
    ffmpeg: str, dest: Path, pattern: str, freq: int, *extra: str, seconds: int = 4
) -> Path:
    """A small 320x180, 25 fps H.264 + AAC clip: an ffmpeg test pattern (testsrc2, smptebars
    …) over a tone; `extra` are output options such as -metadata."""
    return make_media(
        ffmpeg,
        dest,
        "-f",
        "lavfi",
        "-i",
        f"{pattern}=s=320x180:r=25:d={seconds}",
        "-f",
        "lavfi",
        "-i",
        f"sine=f={freq}:sample_rate=48000:d={seconds}",
        *H264_AAC,
        "-b:a",
        "64k",
        "-shortest",
        *extra,
    )


def child_processes(marker: str, parent: int | None = None) -> list[int]:
    """This process's children (or `parent`'s) whose command line contains `marker` (from
    Linux's /proc)."""
    me = parent or os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == me and marker in cmdline:
            found.append(int(entry.name))
    return found


def ebur128_integrated(ffmpeg: str, path: Path) -> float:
    """ffmpeg's own EBU R128 figure, the reference the library must agree with."""
    res = subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-nostats",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-af",
            "ebur128=framelog=verbose",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [ln for ln in res.stderr.splitlines() if ln.strip().startswith("I:")]
    return float(lines[-1].split()[1])


@contextmanager
def serve_app(app: Any, port: int | None = None, *, lifespan: str = "off") -> Iterator[str]:
    """Run an ASGI app under a real uvicorn (on `port`, else a free one); yields its base URL.
    With lifespan="on" its background work runs too, as under `diaspor serve`."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan=lifespan)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def wait_until_healthy(proc: subprocess.Popen[str], base: str, timeout_s: float) -> None:
    """Until `base`/health answers 200; fails with the process's output if it ends first."""
    deadline = time.monotonic() + timeout_s
    while True:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{base} never answered /health"
        time.sleep(0.5)


def interrupt(proc: subprocess.Popen[str], wait_s: float = 20) -> None:
    """Ctrl-C, as an operator stops a `diaspor` command; killed if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout:
        proc.stdout.close()


class RecordingServer:
    """A real HTTP server on a free port that serves the given files and writes down every
    request it gets (path and Authorization header): proof of whether anything fetched."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files = dict(files or {})
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Authorization")))
                body = server.files.get(self.path.split("?")[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(10)


# --- metrics (Prometheus' text format) ------------------------------------------------------

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_metrics(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, by name and labels."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def metric(samples: Samples, name: str, **labels: str) -> float | None:
    """The sample with exactly these labels, or None when there is none."""
    return samples.get((name, frozenset(labels.items())))


def scrape(url: str) -> Samples:
    """GET a `/metrics`, checked to be Prometheus' text format."""
    from prometheus_client import CONTENT_TYPE_LATEST

    r = httpx.get(url, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == CONTENT_TYPE_LATEST
    return parse_metrics(r.text)
