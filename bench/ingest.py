"""Ingest benchmark: the CLI import of a folder, and one large upload over HTTP.

    .venv/bin/python bench/ingest.py [--files 100] [--upload-gb 2] [--keep] [--dir PARENT]

Part 1, CLI ingest. N short MP3 files (tones, Azerbaijani tags) are made with ffmpeg, then
`diaspor media import FOLDER --data-dir D` runs once as a subprocess, analysis included
(the default), with its default number of files at once (the cores it may use). Ingest of
one file is: sha256, ffprobe, one ffmpeg decode of the whole file with silencedetect +
ebur128 (true peak) that gives loudness, true peak, cue points and the decoded duration and
also stands for the tail check, a copy into storage and one database row. (A file with a
picture, which these have not, costs one more ffmpeg run reading that one frame.) The
reference is a bare `ffmpeg -i FILE -af ebur128 -f null -` over the same files, one after
the other, as anyone would type it: the least work any loudness measurement must do. The
design asks the whole import to take at most 1.5x its time (PASS/FAIL). A second reference
runs exactly the ffmpeg command of the import's decode, one file after the other, so the
ratio can be split into "ffmpeg work we chose to do" and "everything else (Python, probes,
copies, database, and the cores used at once)". CPU time (user + system, the ffmpegs
included) is shown beside the wall times: the work done, which other load on a shared
machine changes less than it changes the wall time.

Part 2, HTTP upload. A WAV of about --upload-gb GiB is made, `diaspor serve` is started
(without --with-worker, so nothing is analysed: the figure is receiving and storing), and
the file is streamed to POST /api/v1/media as multipart/form-data from a generator, never
held in memory. The server's resident memory is watched through /proc during the upload;
the requirement is that a 2 GiB upload grows the process by no more than ~50 MiB
(PASS/FAIL). The references are `cp` of the same file to the same disk and
`cat FILE > /dev/null`.

Units: MB = 10^6 bytes (throughput), MiB = 2^20 bytes (memory), GiB = 2^30 bytes (file size).
Memory figures come from Linux /proc; elsewhere they are shown as n/a. This is a bench, not
a test: it exits 0 whether the budgets are met or not (1 only if a part could not run).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from common import (
    Report,
    bench_console,
    child_env,
    clean_up,
    find_diaspor,
    find_ffmpeg,
    free_port,
    mib,
    proc_status_kib,
    ratio,
    tail_of,
    verdict,
)

from media.analysis import analysis_args
from station.settings import Settings

MB = 1_000_000
MIB = 2**20
GIB = 2**30
RSS_BUDGET_MIB = 50.0  # what a 2 GiB upload may add to the server process
TIME_BUDGET = 1.5  # the import's wall time over the bare ebur128 pass's, at most
WAV_RATE, WAV_CHANNELS, WAV_BYTES_PER_SAMPLE = 48_000, 2, 2
POLL_S = 0.01  # /proc sampling interval

console = bench_console(132)


# --- small helpers ----------------------------------------------------------------------


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM of a process we own (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class HwmPoller:
    """Follows a process's own peak RSS while it runs.

    VmHWM is the high-water mark of the process's resident set, kept by the kernel, so
    sampling cannot miss a short-lived peak: each read already includes everything before it.
    The only blind spot is the last interval before exit (teardown, which frees memory).
    Children of the process (ffmpeg, ffprobe) are other processes and are not included here.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.hwm_kib = 0
        self.max_rss_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            hwm = proc_status_kib(self.pid, "VmHWM")
            rss = proc_status_kib(self.pid, "VmRSS")
            if hwm is not None:
                self.hwm_kib = max(self.hwm_kib, hwm)
            if rss is not None:
                self.max_rss_kib = max(self.max_rss_kib, rss)
            self._stop.wait(POLL_S)

    def __enter__(self) -> HwmPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Measured:
    wall_s: float
    returncode: int
    self_peak_kib: int | None  # VmHWM of the process itself (polled)
    tree_peak_kib: int  # ru_maxrss from wait4: max over the process and its reaped children
    cpu_s: float  # user + system from wait4: the process and its reaped children together


def run_measured(args: list[str], env: dict[str, str] | None, log: Path | None) -> Measured:
    """Run one command to completion: wall time, and peak RSS two ways.

    Not resource.getrusage(RUSAGE_CHILDREN): its ru_maxrss is the maximum over every child
    this script ever reaped (the ffmpeg encoders of the test files included), so it cannot
    isolate one run. os.wait4 returns the rusage of that one child instead; on Linux its
    ru_maxrss still folds in the child's own reaped children (the ffmpeg/ffprobe that diaspor
    runs), so it is reported as the process tree's peak. The process's own peak is VmHWM,
    polled from /proc by HwmPoller. wait4 blocks, so the wall time is exact.
    """
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        with HwmPoller(proc.pid) as poll:
            _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(wall, proc.returncode, poll.hwm_kib or None, usage.ru_maxrss, cpu)


def ffmpeg_run(args: list[str]) -> None:
    res = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if res.returncode != 0:
        tail = res.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise RuntimeError(f"ffmpeg failed ({res.returncode}): {' | '.join(tail)}")


# --- formatting ----------------------------------------------------------------------------


def secs(x: float) -> str:
    return f"{x:.2f} s"


def rate(x: float, unit: str) -> str:
    return f"{x:.1f} {unit}"


# --- part 1: CLI import of a folder -----------------------------------------------------

NOTES = [261.63, 293.66, 329.63, 349.23, 392.00, 440.00, 493.88, 523.25]
ARTISTS = ["Qarabağ Ansamblı", "Gülşən və dostları", "Ağdaş Trio", "Şəki Caz Kvarteti"]
GENRES = ["Muğam", "Pop", "Caz", "Xalq"]


def track_args(ffmpeg: str, dest: Path, i: int, rng: random.Random) -> list[str]:
    """One 20-40 s MP3: two tones and a little pink noise, with tremolo, fades, and sometimes
    leading or trailing silence (so silencedetect finds cue points), varied rate and bitrate."""
    dur = rng.uniform(20, 40)
    rate_hz = rng.choice([44_100, 48_000])
    f1 = rng.choice(NOTES) * rng.choice([0.5, 1, 2])
    f2 = f1 * rng.choice([1.25, 1.5, 2.0])
    lead_ms = rng.choice([0, 0, 500, 1500])
    pad_s = rng.choice([0, 0, 1, 2])
    chain = (
        f"[0:a][1:a][2:a]amix=inputs=3:normalize=0,volume={rng.uniform(0.2, 0.6):.2f},"
        f"tremolo=f={rng.uniform(2, 8):.1f}:d={rng.uniform(0.1, 0.5):.2f},"
        f"afade=t=in:d=0.5,afade=t=out:st={dur - 1:.2f}:d=1,"
        f"adelay={lead_ms}:all=1,apad=pad_dur={pad_s},aformat=channel_layouts=stereo[out]"
    )
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={f1:.2f}:sample_rate={rate_hz}:duration={dur:.2f}",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={f2:.2f}:sample_rate={rate_hz}:duration={dur:.2f}",
        "-f",
        "lavfi",
        "-i",
        f"anoisesrc=color=pink:amplitude=0.03:seed={i}:sample_rate={rate_hz}:duration={dur:.2f}",
        "-filter_complex",
        chain,
        "-map",
        "[out]",
        "-c:a",
        "libmp3lame",
        "-b:a",
        rng.choice(["128k", "192k", "256k", "320k"]),
        "-id3v2_version",
        "3",
        "-metadata",
        f"title=Mahnı {i} — ğışçöü",
        "-metadata",
        f"artist={rng.choice(ARTISTS)}",
        "-metadata",
        "album=Diaspor sınaq albomu",
        "-metadata",
        f"genre={rng.choice(GENRES)}",
        "-metadata",
        "language=aze",
        "-metadata",
        f"track={i}",
        str(dest),
    ]


def make_tracks(folder: Path, n: int, ffmpeg: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20_240_601)  # the same files on every run
    files = [folder / f"{i:03d} Mahnı {i}.mp3" for i in range(1, n + 1)]
    jobs = [track_args(ffmpeg, f, i, rng) for i, f in enumerate(files, 1)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(ffmpeg_run, jobs))
    return files


def floor_run(commands: list[list[str]]) -> tuple[float, int, float]:
    """Run ffmpeg commands one after the other: total wall time, the largest peak RSS and
    the CPU time of them all."""
    peak, cpu = 0, 0.0
    t0 = time.perf_counter()
    for args in commands:
        m = run_measured(args, None, None)
        if m.returncode != 0:
            raise RuntimeError(f"floor ffmpeg failed on {args[-1]} ({m.returncode})")
        peak, cpu = max(peak, m.tree_peak_kib), cpu + m.cpu_s
    return time.perf_counter() - t0, peak, cpu


def status_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        rows = con.execute("SELECT status, count(*) FROM media_items GROUP BY status")
        return {str(s): int(c) for s, c in rows}


def bench_cli(rep: Report, root: Path, n: int, ffmpeg: str, diaspor: str) -> None:
    folder = root / "tracks"
    console.print(f"making {n} MP3 files in {folder} …")
    files = make_tracks(folder, n, ffmpeg)
    total_bytes = sum(f.stat().st_size for f in files)
    size_mb = total_bytes / MB

    # The fixed cost of any CLI run: interpreter start-up, imports, schema creation. Measured
    # with `diaspor db upgrade` on an empty folder; its peak RSS is the memory reference.
    fixed_dir = root / "data-fixed"
    fixed_dir.mkdir()  # `db upgrade` does not create the folder itself (open_station does)
    fixed = run_measured(
        [diaspor, "db", "upgrade", "--data-dir", str(fixed_dir)],
        child_env(fixed_dir, ffmpeg),
        root / "db-upgrade.log",
    )
    if fixed.returncode != 0:
        raise RuntimeError(f"diaspor db upgrade failed: {tail_of(root / 'db-upgrade.log', 15)}")

    # Ours: the whole import, analysis included, in one subprocess.
    console.print(f"diaspor media import of {n} files ({size_mb:.1f} MB) …")
    data = root / "data-cli"
    log = root / "import.log"
    ours = run_measured(
        [diaspor, "media", "import", str(folder), "--data-dir", str(data)],
        child_env(data, ffmpeg),
        log,
    )
    counts = status_counts(data / "diaspor.db") if (data / "diaspor.db").exists() else {}
    if ours.returncode != 0:
        console.print(f"[yellow]import exited {ours.returncode}[/yellow]\n{tail_of(log, 15)}")

    # The reference: the bare loudness decode, as anyone would type it.
    console.print("reference: bare ffmpeg ebur128 over the same files, one after the other …")
    bare = [
        [
            ffmpeg,
            "-hide_banner",
            "-nostats",
            "-nostdin",
            "-i",
            str(f),
            "-af",
            "ebur128",
            "-f",
            "null",
            "-",
        ]
        for f in files
    ]
    floor_s, floor_peak, floor_cpu = floor_run(bare)

    # The second reference: exactly the ffmpeg command of the import's one decode
    # (silencedetect + ebur128 with true peak, which oversamples 4x), built by the project's
    # own function, one file after the other.
    defaults = Settings.model_fields
    job = [
        analysis_args(
            ffmpeg,
            f,
            has_audio=True,
            silence_db=float(defaults["silence_threshold_db"].default),
            silence_min_ms=int(defaults["silence_min_ms"].default),
        )
        for f in files
    ]
    console.print("reference: the import's own ffmpeg command over the same files …")
    job_s, _, job_cpu = floor_run(job)

    rep.section(f"CLI: diaspor media import, {n} MP3 files, {size_mb:.1f} MB, analysis on")
    ready = counts.get("ready", 0)
    rep.add(
        "items ready after import",
        f"{ready}/{n}" + ("" if ready == n else f"  [red]{counts}[/red]"),
        f"exit status {ours.returncode}",
        "",
        verdict(ready == n and ours.returncode == 0),
    )
    rep.add(
        f"wall time, whole import ({os.cpu_count() or 1} files at once) vs bare "
        "`ffmpeg -af ebur128`, one file after another",
        secs(ours.wall_s),
        secs(floor_s),
        ratio(ours.wall_s, floor_s),
        f"{verdict(ready == n and ours.wall_s <= TIME_BUDGET * floor_s)} (≤ ×{TIME_BUDGET:g})",
    )
    rep.add(
        "wall time vs the import's own ffmpeg command, one file after another",
        secs(ours.wall_s),
        secs(job_s),
        ratio(ours.wall_s, job_s),
    )
    rep.add(
        "CPU time, ffmpegs included (the work, whatever else the machine runs)",
        secs(ours.cpu_s),
        f"{secs(floor_cpu)} (bare), {secs(job_cpu)} (own command)",
        ratio(ours.cpu_s, floor_cpu),
    )
    rep.add(
        "files/s",
        rate(n / ours.wall_s, "files/s"),
        rate(n / floor_s, "files/s"),
        ratio(n / ours.wall_s, n / floor_s),
    )
    ours_mbs, floor_mbs = size_mb / ours.wall_s, size_mb / floor_s
    rep.add(
        "MB/s (file bytes)",
        rate(ours_mbs, "MB/s"),
        rate(floor_mbs, "MB/s"),
        ratio(ours_mbs, floor_mbs),
    )
    per_file = (ours.wall_s - fixed.wall_s) / n * 1000
    rep.add(
        "per file, fixed start-up cost taken off",
        f"{per_file:.0f} ms",
        f"{floor_s / n * 1000:.0f} ms",
        ratio(per_file, floor_s / n * 1000),
    )
    rep.add("fixed cost: start-up + schema (db upgrade)", secs(fixed.wall_s))
    rep.add(
        "peak RSS, the diaspor process (VmHWM)",
        mib(ours.self_peak_kib, 1),
        f"{mib(fixed.self_peak_kib, 1)} (db upgrade)",
        ratio(ours.self_peak_kib, fixed.self_peak_kib),
    )
    rep.add(
        "peak RSS, largest of process and its ffmpegs",
        mib(ours.tree_peak_kib, 1),
        f"{mib(floor_peak, 1)} (bare ffmpeg)",
        ratio(ours.tree_peak_kib, floor_peak),
    )


# --- part 2: one large upload over HTTP -------------------------------------------------


def make_wav(dest: Path, gib: float, ffmpeg: str, freq: float = 440.0) -> None:
    seconds = gib * GIB / (WAV_RATE * WAV_CHANNELS * WAV_BYTES_PER_SAMPLE)
    ffmpeg_run(
        [
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={freq}:sample_rate={WAV_RATE}:duration={seconds:.3f}",
            "-ac",
            str(WAV_CHANNELS),
            "-c:a",
            "pcm_s16le",
            "-rf64",
            "auto",
            str(dest),
        ]
    )


def timed(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


@dataclass
class Upload:
    status: int
    body: str
    total_s: float  # request start to response
    sent_s: float  # request start to the last body byte handed to the socket
    before_kib: int | None  # server VmRSS just before
    peak_kib: int | None  # server peak RSS during (VmHWM after reset, or sampled VmRSS)
    after_kib: int | None  # server VmRSS once the response is in
    method: str


def upload(client: httpx.Client, url: str, token: str, path: Path, pid: int) -> Upload:
    """POST one file as multipart/form-data, streamed from disk in 1 MiB chunks.

    The envelope is built by hand so Content-Length is known in advance (the server checks it
    against the limit before reading) and no multipart library buffers the file.
    """
    boundary = "diaspor-bench-" + os.urandom(12).hex()
    name = path.name
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="title"\r\n\r\n'
        f"Uzun yazı — ğışçöü ({name})\r\n"
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = path.stat().st_size
    sent_at = [0.0]

    def body() -> Iterator[bytes]:
        yield head
        with open(path, "rb") as fh:
            while chunk := fh.read(MIB):
                yield chunk
        yield tail
        sent_at[0] = time.perf_counter()  # runs once httpx has written the tail

    before = proc_status_kib(pid, "VmRSS")
    # Peak RSS during the upload: reset the kernel's high-water mark, then read VmHWM after.
    # That is exact. Where the reset is refused, the sampled maximum of VmRSS is used instead.
    reset = reset_peak_rss(pid)
    with HwmPoller(pid) as poll:
        t0 = time.perf_counter()
        r = client.post(
            url,
            content=body(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(head) + size + len(tail)),
            },
        )
        total = time.perf_counter() - t0
        hwm = proc_status_kib(pid, "VmHWM")
    after = proc_status_kib(pid, "VmRSS")
    peak: int | None
    if reset and hwm is not None:
        peak, method = max(hwm, poll.max_rss_kib), "VmHWM reset before"
    else:
        peak, method = (poll.max_rss_kib or None), f"VmRSS sampled every {POLL_S * 1000:.0f} ms"
    return Upload(
        r.status_code,
        r.text,
        total,
        (sent_at[0] or time.perf_counter()) - t0,
        before,
        peak,
        after,
        method,
    )


def wait_healthy(proc: subprocess.Popen[bytes], base: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"diaspor serve exited {proc.returncode}:\n{tail_of(log, 15)}")
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"diaspor serve did not answer /health in {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn shuts down gracefully), then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bench_upload(rep: Report, root: Path, gib: float, ffmpeg: str, diaspor: str) -> None:
    big = root / "uzun-yazı.wav"
    console.print(f"making a {gib:g} GiB WAV ({big}) …")
    make_wav(big, gib, ffmpeg)
    size = big.stat().st_size
    small = root / "isinma.wav"  # a 1 MiB warm-up upload, other contents than the big one
    make_wav(small, 1 / 1024, ffmpeg, freq=523.25)

    # References: reading the file, and copying it to the same disk (no fsync, as the server).
    console.print("references: cat > /dev/null, cp …")
    cat_s = timed(["cat", str(big)])
    copy = root / "copy.wav"
    cp_s = timed(["cp", "--reflink=never", str(big), str(copy)])
    copy.unlink()

    data = root / "data-serve"
    limit_mb = int(size / MIB * 2) + 64
    env = child_env(data, ffmpeg, DIASPOR_MAX_UPLOAD_MB=str(limit_mb))
    token_res = subprocess.run(
        [
            diaspor,
            "token",
            "create",
            "--name",
            "bench",
            "--role",
            "editor",
            "--data-dir",
            str(data),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if token_res.returncode != 0:
        raise RuntimeError(f"diaspor token create failed: {token_res.stderr.strip()[-500:]}")
    token = token_res.stdout.strip().splitlines()[-1]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = root / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [diaspor, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    try:
        wait_healthy(server, base, log, timeout=60)
        timeout = httpx.Timeout(60.0, read=600.0)
        with httpx.Client(timeout=timeout) as client:
            # First request that touches the upload path: lazy imports and first-use caches
            # belong to no particular upload size, so they are measured apart.
            warm = upload(client, base + "/api/v1/media", token, small, server.pid)
            if warm.status not in (200, 201):
                raise RuntimeError(f"warm-up upload: HTTP {warm.status}: {warm.body[:500]}")
            time.sleep(1.0)  # let the server settle before the baseline
            console.print(f"uploading {size / MB:.0f} MB to {base}/api/v1/media …")
            up = upload(client, base + "/api/v1/media", token, big, server.pid)
    finally:
        stop(server)

    rep.section(f"HTTP: POST /api/v1/media, one {gib:g} GiB WAV ({size / MB:.0f} MB)")
    if up.status not in (200, 201):
        raise RuntimeError(f"HTTP {up.status}: {up.body[:500]}\n{tail_of(log, 15)}")
    media = json.loads(up.body).get("media", {})
    rep.add(
        "response",
        f"HTTP {up.status}, media {media.get('id')}",
        f"{media.get('duration_ms', 0) / 1000 / 3600:.2f} h of audio",
    )
    rep.add(
        "upload time, request → response vs cp",
        secs(up.total_s),
        secs(cp_s),
        ratio(up.total_s, cp_s),
    )
    rep.add(
        "upload throughput vs cp",
        rate(size / MB / up.total_s, "MB/s"),
        rate(size / MB / cp_s, "MB/s"),
        ratio(cp_s, up.total_s),
    )
    rep.add(
        "body sent (client side) vs cat > /dev/null",
        rate(size / MB / up.sent_s, "MB/s"),
        rate(size / MB / cat_s, "MB/s"),
        ratio(cat_s, up.sent_s),
    )
    rep.add("after the last byte left: probe, tail check, store", secs(up.total_s - up.sent_s))
    if up.before_kib is None or up.peak_kib is None:
        budget = f"≤ {RSS_BUDGET_MIB:.0f} MiB"
        rep.add("server peak RSS growth", "n/a (no /proc)", budget, "", "n/a")
        return
    growth = (up.peak_kib - up.before_kib) / 1024
    rep.add("server RSS before the upload", mib(up.before_kib, 1))
    rep.add(
        f"server peak RSS growth ({up.method})",
        f"{growth:.1f} MiB",
        f"≤ {RSS_BUDGET_MIB:.0f} MiB budget",
        f"×{growth / RSS_BUDGET_MIB:.2f}",
        verdict(growth <= RSS_BUDGET_MIB),
    )
    if up.after_kib is not None:
        rep.add(
            "server RSS kept after the response",
            f"{(up.after_kib - up.before_kib) / 1024:+.1f} MiB",
        )
    if warm.before_kib is not None and warm.peak_kib is not None:
        rep.add(
            "warm-up (first 1 MiB upload) growth, apart",
            f"{(warm.peak_kib - warm.before_kib) / 1024:.1f} MiB",
        )


# --- main ---------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=100, help="number of MP3 files (default 100)")
    ap.add_argument(
        "--upload-gb",
        type=float,
        default=2.0,
        help="size of the uploaded WAV in GiB (default 2; 0: no upload)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where to make the temporary folder (default: the system's temp dir; "
        "use a disk, not a tmpfs, for the upload)",
    )
    args = ap.parse_args()
    if args.files < 1:
        ap.error("--files must be at least 1")

    ffmpeg, diaspor = find_ffmpeg(), find_diaspor()
    if diaspor is None:
        sys.exit("the diaspor command was not found: run this with the project's virtualenv")
    root = Path(tempfile.mkdtemp(prefix="diaspor-bench-", dir=args.dir))
    # The WAV, its cp copy and the server's stored copy exist at once, plus the MP3s.
    need = 3 * args.upload_gb * GIB + args.files * 2 * MIB + 256 * MIB
    if shutil.disk_usage(root).free < need:
        shutil.rmtree(root, ignore_errors=True)
        sys.exit(f"not enough free space in {root.parent}: need about {need / GIB:.1f} GiB")

    version = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True, check=False)
    console.print(
        f"{version.stdout.splitlines()[0] if version.stdout else ffmpeg}; "
        f"Python {sys.version.split()[0]}; {os.cpu_count()} CPUs; work dir {root}"
    )
    rep = Report(
        "Diaspor ingest bench",
        "ratio = ours ÷ reference (times: above 1 is slower; rates: below 1 is slower)",
        console,
    )
    try:
        try:
            bench_cli(rep, root, args.files, ffmpeg, diaspor)
        except Exception as exc:
            rep.error("CLI import bench", exc)
        if args.upload_gb > 0:
            try:
                bench_upload(rep, root, args.upload_gb, ffmpeg, diaspor)
            except Exception as exc:
                rep.error("upload bench", exc)
    finally:
        clean_up(root, args.keep, console)
    rep.print()
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
