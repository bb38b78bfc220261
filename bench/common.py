"""What the benchmark scripts share: ports, /proc readers, child processes, icecast2, roles, the
report.

The scripts are run as `.venv/bin/python bench/X.py`, which puts this folder first on
sys.path, so they import this module as `common`; so do the role processes they start (the
same script file, run again with a role name and a config file).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Console
from rich.table import Table

CLK_TCK = os.sysconf("SC_CLK_TCK")


def bench_console(width: int = 150) -> Console:
    """Not a terminal (piped, CI): a fixed width, so the table is not squeezed into 80 columns."""
    return Console(width=None if sys.stdout.isatty() else width)


# --- small helpers (any process) ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu_s(pid: int) -> float | None:
    """user + system CPU seconds of a live process (or an unreaped zombie), from /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kib(pid: int, key: str) -> int | None:
    """A `kB` line of /proc/PID/status (VmRSS, VmHWM …); None if gone or not Linux."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def proc_pss_kib(pid: int) -> int | None:
    """Proportional set size: resident memory with shared pages split between their users,
    so a sum over processes that share libraries (ffmpeg's) counts them once."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def tree_memory_kib(pid: int, *, with_root: bool) -> tuple[int, int]:
    """(RSS, PSS) summed over a process's direct children, and the process itself if asked."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            pids = [int(k) for k in fh.read().split()]
    except OSError:
        pids = []
    if with_root:
        pids.append(pid)
    rss = sum(proc_status_kib(p, "VmRSS") or 0 for p in pids)
    pss = sum(proc_pss_kib(p) or 0 for p in pids)
    return rss, pss


@dataclass
class MemoryPeak:
    """Peak memory of a process tree, sampled from outside (this costs the tree nothing)."""

    with_root: bool
    rss_kib: int = 0
    pss_kib: int = 0

    def sample(self, pid: int) -> None:
        rss, pss = tree_memory_kib(pid, with_root=self.with_root)
        self.rss_kib, self.pss_kib = max(self.rss_kib, rss), max(self.pss_kib, pss)


def rusage_cpu(ru: resource.struct_rusage) -> float:
    return float(ru.ru_utime + ru.ru_stime)


def tail_of(path: Path | None, lines: int = 12) -> str:
    if path is None:
        return ""
    try:
        text = path.read_text("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def find_ffmpeg() -> str:
    """The ffmpeg the project would pick by default (system, else the imageio-ffmpeg wheel).
    The scripts hand the same binary to their subprocesses (DIASPOR_FFMPEG_PATH), so that
    ours and the references run the very same build."""
    from media.binaries import find_tools
    from media.errors import ToolMissing

    try:
        return find_tools().ffmpeg
    except ToolMissing as exc:
        sys.exit(str(exc))


def find_diaspor() -> str | None:
    """The `diaspor` command of this virtualenv (else on PATH); None if there is none."""
    beside = Path(sys.executable).parent / "diaspor"
    return str(beside) if beside.exists() else shutil.which("diaspor")


def child_env(data_dir: Path, ffmpeg: str, **extra: str) -> dict[str, str]:
    """The environment of a diaspor subprocess. Any DIASPOR_* or DATABASE_URL of the caller's
    shell is dropped: the figures are for the defaults, and a bench must never write into a
    real database or bucket that happens to be configured where it is run."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("DIASPOR_") and k != "DATABASE_URL"
    }
    env.update(
        DIASPOR_DATA_DIR=str(data_dir),
        DIASPOR_STORAGE_BACKEND="local",
        DIASPOR_FFMPEG_PATH=ffmpeg,
        **extra,
    )
    return env


# --- child processes: started, sampled and reaped by the parent ------------------------------


@dataclass
class Reaped:
    wall_s: float
    cpu_s: float
    maxrss_kib: int
    returncode: int
    timed_out: bool = False


class Child:
    """A process we started in its own session (and process group), reaped with os.wait4 for
    its rusage. Its rusage folds in its own reaped children (on Linux, ru_maxrss is then the
    largest of them, not a sum); `hwm_kib` is its own VmHWM, sampled while it runs."""

    live: ClassVar[list[Child]] = []  # one registry, so that every child is stopped

    def __init__(
        self,
        args: list[str],
        *,
        log: Path | None = None,
        env: dict[str, str] | None = None,
        pipes: bool = False,
        cwd: Path | None = None,
    ) -> None:
        out: Any = subprocess.DEVNULL
        if log is not None:
            out = open(log, "ab")  # noqa: SIM115 (closed right after the start)
        try:
            self.t0 = time.perf_counter()
            self.proc = subprocess.Popen(
                args,
                stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipes else out,
                stderr=out,
                env=env,
                cwd=cwd,
                start_new_session=True,
                bufsize=0,
            )
        finally:
            if log is not None:
                out.close()
        self.pid = self.proc.pid
        self.log = log
        self.reaped: Reaped | None = None
        self.hwm_kib = 0
        self._buf = b""
        Child.live.append(self)

    def sample(self) -> None:
        if self.reaped is None:
            self.hwm_kib = max(self.hwm_kib, proc_status_kib(self.pid, "VmHWM") or 0)

    def _finish(self, status: int, ru: resource.struct_rusage, timed_out: bool) -> Reaped:
        code = os.waitstatus_to_exitcode(status)
        self.proc.returncode = code
        self.reaped = Reaped(
            time.perf_counter() - self.t0, rusage_cpu(ru), ru.ru_maxrss, code, timed_out
        )
        with contextlib.suppress(ValueError):
            Child.live.remove(self)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        return self.reaped

    def poll(self) -> Reaped | None:
        if self.reaped is not None:
            return self.reaped
        pid, status, ru = os.wait4(self.pid, os.WNOHANG)
        return self._finish(status, ru, False) if pid else None

    def wait(self, timeout: float, memory: MemoryPeak | None = None) -> Reaped:
        """Reap it; after `timeout` seconds it is stopped (TERM, then KILL) and reaped, and the
        result says `timed_out`. `memory`, if given, samples its process tree every 2 s."""
        deadline = time.monotonic() + timeout
        next_sample = 0.0
        while time.monotonic() < deadline:
            if memory is not None and time.monotonic() >= next_sample:
                memory.sample(self.pid)
                next_sample = time.monotonic() + 2.0
            self.sample()
            done = self.poll()
            if done is not None:
                return done
            time.sleep(0.02)
        return self.stop(timed_out=True)

    def stop(self, grace: float = 10.0, *, timed_out: bool = False) -> Reaped:
        if self.poll() is not None:
            assert self.reaped is not None
            return self.reaped
        self.sample()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            pid, status, ru = os.wait4(self.pid, os.WNOHANG)
            if pid:
                return self._finish(status, ru, timed_out)
            time.sleep(0.02)
        # Still unreaped, so the group id is still ours: end the group (it and its children).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        _, status, ru = os.wait4(self.pid, 0)
        return self._finish(status, ru, timed_out)

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):
            self.proc.stdin.write(text.encode())

    def read_line(self, timeout: float) -> str | None:
        """One line of its stdout (pipes=True), or None at end of file or after `timeout` s."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode("utf-8", "replace")

    @classmethod
    def stop_all(cls) -> None:
        for child in list(cls.live):
            child.stop(grace=5.0)


def clean_up(root: Path, keep: bool, console: Console) -> None:
    """At the end of a run: every child still running stopped, the work folder removed."""
    Child.stop_all()
    if keep:
        console.print(f"kept {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)


# --- icecast2 and the file-descriptor limit (bench/radio.py, bench/e2e.py) -----------------

REPO = Path(__file__).resolve().parents[1]
ICECAST_XML = REPO / "deploy" / "icecast.xml"
ICECAST_SHARE = Path("/usr/share/icecast2")


def raise_nofile(at_least: int = 0) -> int:
    """Raise this process's file-descriptor limit to its hard limit, and the hard limit too
    (as root) when `at_least` needs more; what the processes it starts inherit. The limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < at_least:
        with contextlib.suppress(ValueError, OSError):  # not root: the hard limit stays
            resource.setrlimit(resource.RLIMIT_NOFILE, (at_least, at_least))
            soft, hard = at_least, at_least
    want = hard if hard != resource.RLIM_INFINITY else max(65536, at_least)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def proc_nofile(pid: int) -> int | None:
    """A live process's soft limit on open files, from /proc/PID/limits."""
    try:
        with open(f"/proc/{pid}/limits", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        return None
    return None


def mount_listeners(port: int, mount: str, host: str = "127.0.0.1") -> int | None:
    """The listener count a server's /status-json.xsl gives for a mount (icecast2 or ours)."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/status-json.xsl", timeout=5) as r:
            stats = json.loads(r.read().decode("utf-8", "replace"))["icestats"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    sources = stats.get("source", [])
    for s in sources if isinstance(sources, list) else [sources]:
        if str(s.get("listenurl", "")).endswith(mount):
            return int(s.get("listeners", 0))
    return None


def icecast_credentials() -> dict[str, str]:
    auth = ET.parse(ICECAST_XML).getroot().find("authentication")
    if auth is None:
        raise RuntimeError(f"{ICECAST_XML} has no <authentication>")
    return {
        "source_password": auth.findtext("source-password", ""),
        "admin_user": auth.findtext("admin-user", ""),
        "admin_password": auth.findtext("admin-password", ""),
    }


def start_icecast2(root: Path, clients: int) -> tuple[Child, int]:
    """icecast2 on a free port from a copy of deploy/icecast.xml, as `nobody` when root."""
    binary = shutil.which("icecast2")
    if binary is None:
        raise RuntimeError("icecast2 is not installed (apt-get install icecast2)")
    port = free_port()
    shipped = ICECAST_XML.read_text(encoding="utf-8")
    config = shipped.replace("<port>8000</port>", f"<port>{port}</port>")
    config, count = re.subn(r"<clients>\d+</clients>", f"<clients>{clients}</clients>", config)
    if config == shipped or count != 1:
        raise RuntimeError("deploy/icecast.xml no longer has <port>8000</port> and <clients>")
    folder = root / "icecast2"
    shutil.copytree(ICECAST_SHARE / "web", folder / "web")
    shutil.copytree(ICECAST_SHARE / "admin", folder / "admin")
    (folder / "icecast.xml").write_text(config, encoding="utf-8")
    command = [binary, "-c", "icecast.xml"]
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for parent in (root.parent, root):  # nobody must reach the folder inside
            os.chmod(parent, 0o711)
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise RuntimeError("setpriv is missing: needed to run icecast2 as nobody")
        command = [
            setpriv,
            f"--reuid={nobody.pw_uid}",
            f"--regid={nobody.pw_gid}",
            "--clear-groups",
            "--",
            *command,
        ]
    child = Child(command, log=root / "icecast2.log", cwd=folder)
    deadline = time.monotonic() + 15
    while not icecast_answers(port):
        if child.poll() is not None or time.monotonic() > deadline:
            child.stop()
            raise RuntimeError(f"icecast2 did not start:\n{tail_of(root / 'icecast2.log')}")
        time.sleep(0.1)
    return child, port


def icecast_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status-json.xsl", timeout=2) as r:
            return isinstance(json.loads(r.read().decode("utf-8", "replace")).get("icestats"), dict)
    except (OSError, ValueError):
        return False


# --- roles: a script started again in a child process, with a JSON config --------------------

Role = Callable[[dict[str, Any]], Coroutine[Any, Any, None]]


def role_args(script: str, role: str, cfg: dict[str, Any], root: Path) -> list[str]:
    """The command that runs `role` of `script` (its __file__) with `cfg`, written to root."""
    path = root / f"{role.strip('_')}-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
    return [sys.executable, str(Path(script).resolve()), role, str(path)]


def start_role(
    script: str, role: str, cfg: dict[str, Any], root: Path, env: dict[str, str] | None = None
) -> tuple[Child, Path]:
    """Start a role that writes a result (see write_result): the child, and where it writes."""
    name = role.strip("_")
    result = root / f"{name}-result-{time.monotonic_ns()}.json"
    args = role_args(script, role, {**cfg, "result": str(result)}, root)
    return Child(args, log=root / f"{name}.log", env=env), result


def role_result(role: str, child: Child, result: Path) -> dict[str, Any]:
    """The result a reaped role wrote; an error with the end of its log if it wrote none."""
    reaped = child.reaped
    if reaped is not None and reaped.returncode == 0 and result.exists():
        out: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
        return out
    code = "?" if reaped is None else reaped.returncode
    raise RuntimeError(f"{role.strip('_')} exited {code}:\n{tail_of(child.log)}")


def run_role(
    script: str,
    role: str,
    cfg: dict[str, Any],
    root: Path,
    timeout: float,
    *,
    env: dict[str, str] | None = None,
    memory: MemoryPeak | None = None,
) -> tuple[Reaped, dict[str, Any]]:
    """Run a role to completion: its rusage (wait4) and the result it wrote."""
    child, result = start_role(script, role, cfg, root, env)
    reaped = child.wait(timeout, memory)
    if reaped.timed_out:
        raise RuntimeError(f"{role.strip('_')} did not finish within {timeout:.0f} s")
    return reaped, role_result(role, child, result)


def write_result(cfg: dict[str, Any], result: dict[str, Any]) -> None:
    Path(cfg["result"]).write_text(json.dumps(result), encoding="utf-8")


def stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


def script_main(roles: Mapping[str, Role], main: Callable[[], int]) -> int:
    """The entry point of a script with roles: `X.py ROLE CONFIG` runs a role, else main()."""
    if len(sys.argv) == 3 and sys.argv[1] in roles:
        cfg = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
        asyncio.run(roles[sys.argv[1]](cfg))
        return 0
    return main()


# --- report ----------------------------------------------------------------------------------


@dataclass
class Report:
    """The result table: measure, ours, reference, ratio, and where a row is judged against
    the design's number its verdict; sections and errors as rows."""

    title: str
    caption: str
    console: Console
    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    failed: bool = False

    def section(self, title: str) -> None:
        self.rows.append((f"[bold]{title}[/bold]", "", "", "", ""))

    def add(
        self, measure: str, ours: str, ref: str = "", ratio: str = "", verdict: str = ""
    ) -> None:
        self.rows.append((measure, ours, ref, ratio, verdict))

    def error(self, what: str, exc: BaseException) -> None:
        self.failed = True
        lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()] or [repr(exc)]
        self.console.print(f"[red]{what} could not run:[/red]\n{exc}")
        self.add(f"[red]{what} could not run[/red]", f"[red]{lines[-1][:200]}[/red]")

    def print(self) -> None:
        judged = any(row[4] for row in self.rows)
        columns = ["measure", "ours", "reference", "ratio"] + ["verdict"] * judged
        table = Table(*columns, title=self.title, caption=self.caption)
        for row in self.rows:
            table.add_row(*row[: len(columns)])
        self.console.print(table)


def verdict(ok: bool) -> str:
    return "[green]PASS[/green]" if ok else "[red]FAIL[/red]"


def ratio(ours: float | None, ref: float | None) -> str:
    """ours ÷ ref as "×1.23"; a tiny positive ratio in scientific notation ("×2.5e-04")."""
    if ours is None or not ref:
        return ""
    q = ours / ref
    return f"×{q:.1e}" if 0 < abs(q) < 0.01 else f"×{q:.2f}"


def mib(kib: float | None, places: int = 0) -> str:
    return "n/a" if not kib else f"{kib / 1024:.{places}f} MiB"


# A listener's socket wakes its reader once this much has arrived (SO_RCVLOWAT), not at each
# frame a server writes (icecast2 writes every MP3 frame, ~38 a second): one Python process
# can then follow 10,000 listeners. The servers' work is the same; what waits in a socket at
# the window's edges is at most this, under 1 % of 30 s at 128 kbit/s.
LISTENER_LOW_WATER = 4096


class Listener(asyncio.Protocol):
    """One radio listener: sends its request, then only counts bytes."""

    def __init__(self, request: bytes, head: asyncio.Future[bool]) -> None:
        self.request, self.head = request, head
        self.buf = bytearray()
        self.in_body = self.ok = self.closed = False
        self.bytes = 0
        self.at_mark = -1  # bytes when the window opened; -1: not held then
        self.closed_at: float | None = None
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if self.in_body:
            self.bytes += len(data)
            return
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > 16384:
                self._answer(False)
            return
        self.ok = b" 200" in bytes(self.buf[: self.buf.find(b"\r\n")])
        self.bytes = len(self.buf) - end - 4
        self.in_body = True
        sock = self.transport.get_extra_info("socket") if self.transport else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, LISTENER_LOW_WATER)
        self.buf = bytearray()
        self._answer(self.ok)

    def _answer(self, ok: bool) -> None:
        if not self.head.done():
            self.head.set_result(ok)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.closed_at = time.monotonic()
        self._answer(False)
