"""docker-compose.yml's production topology, run natively on one machine (no Docker engine).

Every service runs from the files compose mounts and with the environment compose gives it:
nginx on deploy/nginx.conf (HTTPS on 443 with a self-signed certificate for localhost, HTTP
on 80), icecast2 on deploy/icecast.xml and the relay on deploy/icecast-relay.xml (with the
placeholders replaced as the image's entrypoint does), two `diaspor serve`, a `diaspor worker`,
`diaspor playout` twice (leader and standby), `diaspor fallback air`, on PostgreSQL (a scratch
database on this machine's server) and S3 (moto's server). What Docker gives containers is
made here the same way:

- Service names: every process runs in its own mount namespace whose /etc/hosts maps
  compose's names to loopback addresses (127.0.0.2 and 127.0.0.3 are the two "api"
  replicas, as Docker's DNS answers with both, and so on).
- Each service has its own address, so the ports in the files stay as they are. Only what
  Docker's network makes unnecessary is set here: where each process listens (`--host`,
  DIASPOR_HOST, icecast2's <bind-address>), its data folder, the scratch database's URL, and
  nginx's address as the API's trusted proxy.

Needs root (ports 80 and 443, mount namespaces, icecast2 started as nobody), nginx,
icecast2, ffmpeg and a PostgreSQL server; `why_not()` says what is missing. Used by
tests/test_edge.py and bench/e2e.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx

from station.db import scratch_database
from tests.test_compose_file import (
    ICECAST_XML,
    NGINX_CONF,
    ROOT,
    argv,
    container_env,
    interpolate,
    load_compose,
)

RELAY_XML = ROOT / "deploy" / "icecast-relay.xml"
ICECAST_SHARE = Path("/usr/share/icecast2")
BIN = Path(sys.executable).parent
PG_SERVER = os.environ.get(
    "DIASPOR_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PUBLIC_URL = "https://localhost"
LOCK = Path(tempfile.gettempdir()) / "diaspor-topology.lock"

# compose's service names and the loopback addresses they stand for here.
HOSTS: dict[str, tuple[str, ...]] = {
    "postgres": ("127.0.0.1",),
    "api": ("127.0.0.2", "127.0.0.3"),
    "minio": ("127.0.0.4",),
    "icecast": ("127.0.0.5",),
    "icecast-relay": ("127.0.0.6",),
    "playout": ("127.0.0.7",),
    "playout-standby": ("127.0.0.8",),
    "worker": ("127.0.0.9",),
    "nginx": ("127.0.0.1",),  # as the relay's listener hooks name it
}
SCRATCH = "/var/lib/diaspor"  # the services' data folder in compose


def why_not(*, ports: bool = True) -> str | None:
    """Why the topology cannot run on this machine, or None. (Without `ports`: whether it
    could, once another run of it has ended.)"""
    if os.geteuid() != 0:
        return "needs root: nginx listens on 80 and 443, and services get their own /etc/hosts"
    for program in ("nginx", "icecast2", "ffmpeg", "unshare", "setpriv", "openssl"):
        if shutil.which(program) is None:
            return f"{program} is not installed"
    if not (ICECAST_SHARE / "web").is_dir():
        return f"icecast2's web files are missing from {ICECAST_SHARE}"
    for kind, address, port in (
        ((socket.SOCK_STREAM, "0.0.0.0", 80), (socket.SOCK_STREAM, "0.0.0.0", 443)) if ports else ()
    ):
        with socket.socket(socket.AF_INET, kind) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((address, port))
            except OSError:
                return f"{address}:{port} is taken on this machine"
    try:
        with httpx.Client() as _:
            from sqlalchemy import create_engine, text

            engine = create_engine(PG_SERVER.replace("postgresql://", "postgresql+psycopg://", 1))
            with engine.connect() as c:
                c.execute(text("SELECT 1"))
            engine.dispose()
    except Exception as e:
        return f"no PostgreSQL server at {PG_SERVER}: {e}"
    return None


# --- names --------------------------------------------------------------------------------


def hosts_file(path: Path) -> Path:
    lines = ["127.0.0.1 localhost"]
    lines += [f"{address} {name}" for name, addresses in HOSTS.items() for address in addresses]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def with_names(hosts: Path, command: list[str]) -> list[str]:
    """`command`, run in a mount namespace of its own whose /etc/hosts is `hosts`."""
    bind = 'mount --bind "$0" /etc/hosts && exec "$@"'
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        bind,
        str(hosts),
        *command,
    ]


# --- compose ------------------------------------------------------------------------------


def compose_services() -> dict[str, dict[str, Any]]:
    return load_compose()["services"]  # type: ignore[no-any-return]


# --- processes ----------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.proc.poll() is None


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def stop_process(p: Process, sig: int = signal.SIGINT, wait_s: float = 15) -> None:
    if p.proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            p.proc.send_signal(sig)
        try:
            p.proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            for pid in reversed(descendants(p.proc.pid)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            p.proc.wait(5)


@dataclass
class Stack:
    """The running topology: its public origin and, for tests and the bench, each part."""

    work: Path
    public_url: str
    ca_file: Path
    relay_url: str
    master_url: str
    radio_mounts: list[str]
    tv_master_playlist: str
    admin_token: str
    secrets: dict[str, str]
    hosts: Path
    envs: dict[str, dict[str, str]]
    nginx_dir: Path
    processes: dict[str, Process] = field(default_factory=dict)

    def pids(self) -> dict[str, list[int]]:
        """Component -> its processes (children included: nginx's workers, encoders)."""
        groups: dict[str, list[int]] = {}
        for name, p in self.processes.items():
            if not p.alive():
                continue
            component = {"api-1": "api", "api-2": "api", "playout-standby": "playout"}.get(
                name, name
            )
            groups.setdefault(component, []).extend(descendants(p.proc.pid))
        return groups

    def client(self, **kw: Any) -> httpx.Client:
        """An HTTPS client of the public origin that trusts its certificate."""
        trust = ssl.create_default_context(cafile=str(self.ca_file))
        return httpx.Client(base_url=self.public_url, verify=trust, **kw)

    def start(
        self,
        name: str,
        command: list[str],
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        names: bool = True,
    ) -> Process:
        log = self.work / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                with_names(self.hosts, command) if names else command,
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        p = Process(name, proc, log)
        self.processes[name] = p
        return p

    def start_diaspor(
        self, name: str, service: str, host: str, extra: list[str] | None = None
    ) -> Process:
        """A diaspor service as compose runs it: its command and environment, listening on
        its own address, with its own data folder."""
        svc = compose_services()[service]
        command = [interpolate(a, {}) for a in argv(svc["command"])]
        command = [a.replace(SCRATCH, str(self.work / name)) for a in command]
        command = [a if a != "0.0.0.0" else host for a in command]
        assert command[0] == "diaspor", command
        command[0] = str(BIN / "diaspor")
        env = dict(self.envs[service])
        env.update(self.local_env(name, host))
        return self.start(name, command + (extra or []), env=env)

    def local_env(self, name: str, host: str) -> dict[str, str]:
        """What Docker's network and volumes make unnecessary, for process `name`."""
        data = self.work / name
        data.mkdir(parents=True, exist_ok=True)
        keep = {k: v for k, v in os.environ.items() if not k.startswith("DIASPOR_")}
        return {
            **keep,
            "DIASPOR_DATA_DIR": str(data),
            "DIASPOR_HOST": host,
            "DIASPOR_DATABASE_URL": self.secrets["database_url"],
            "DIASPOR_TRUSTED_PROXIES": "127.0.0.1",  # nginx's address here
        }

    def wait(self, what: str, check: Callable[[], Any], timeout_s: float) -> Any:
        end = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < end:
            try:
                last = check()
            except (httpx.HTTPError, OSError, ValueError, KeyError) as e:
                last = e
            if last and not isinstance(last, Exception):
                return last
            for p in self.processes.values():
                if not p.alive() and p.name not in self.ended_on_purpose:
                    raise AssertionError(
                        f"{p.name} ended (exit {p.proc.returncode}) while waiting for {what}:\n"
                        f"{p.tail()}"
                    )
            time.sleep(0.5)
        logs = "\n".join(f"--- {p.name}\n{p.tail(15)}" for p in self.processes.values())
        raise AssertionError(f"timed out waiting for {what} (last: {last!r})\n{logs}")

    ended_on_purpose: set[str] = field(default_factory=set)

    def kill(self, name: str) -> None:
        """SIGKILL a service and its children, as a machine failing would."""
        p = self.processes[name]
        self.ended_on_purpose.add(name)
        for pid in descendants(p.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        p.proc.wait(10)


def icecast_status(base: str) -> dict[str, dict[str, Any]]:
    """Mount -> its status entry on an icecast2 server."""
    r = httpx.get(f"{base}/status-json.xsl", timeout=3)
    r.raise_for_status()
    sources = r.json()["icestats"].get("source") or []
    if isinstance(sources, dict):
        sources = [sources]
    return {"/" + s["listenurl"].rsplit("/", 1)[1]: s for s in sources}


def icecast_config(template: Path, address: str, values: Mapping[str, str]) -> str:
    """An icecast2 file as the image's entrypoint leaves it (passwords, hostname), listening
    on `address`."""
    text = template.read_text(encoding="utf-8")
    for old, new in values.items():
        text = text.replace(old, new)
    listen = re.compile(r"(<listen-socket>\s*<port>8000</port>)")
    assert len(listen.findall(text)) == 1, f"{template.name} no longer listens on port 8000"
    return listen.sub(rf"\1<bind-address>{address}</bind-address>", text)


def start_icecast(stack: Stack, name: str, template: Path, address: str) -> Process:
    """icecast2 as `nobody` from a folder laid out as the files expect (web/, admin/)."""
    root = Path(tempfile.mkdtemp(prefix=f"diaspor-{name}-"))
    shutil.copytree(ICECAST_SHARE / "web", root / "web")
    shutil.copytree(ICECAST_SHARE / "admin", root / "admin")
    s = stack.secrets
    values = {
        "CHANGE-ME-source-password": s["ICECAST_SOURCE_PASSWORD"],
        "CHANGE-ME-relay-password": s["ICECAST_RELAY_PASSWORD"],
        "CHANGE-ME-admin-password": s["ICECAST_ADMIN_PASSWORD"],
        "CHANGE-ME-icecast-auth-secret": s["ICECAST_AUTH_SECRET"],
    }
    (root / "icecast.xml").write_text(icecast_config(template, address, values), encoding="utf-8")
    nobody = pwd.getpwnam("nobody")
    for path in [root, *root.rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    command = [
        "setpriv",
        f"--reuid={nobody.pw_uid}",
        f"--regid={nobody.pw_gid}",
        "--clear-groups",
        "--",
        shutil.which("icecast2") or "icecast2",
        "-c",
        "icecast.xml",
    ]
    # icecast2 2.4.4 has been seen to die of SIGSEGV within its first second on a loaded
    # machine, before it served anything. Compose's `restart: unless-stopped` starts it again;
    # so does this, a few times, saying so, and a crash that repeats still fails the run.
    base = f"http://{address}:8000"
    for attempt in range(1, 4):
        process = stack.start(name, command, cwd=root)
        end = time.monotonic() + 30
        while time.monotonic() < end and process.alive():
            with contextlib.suppress(httpx.HTTPError, OSError, ValueError, KeyError):
                icecast_status(base)
                return process
            time.sleep(0.3)
        if process.alive():
            raise AssertionError(f"{name} did not answer in 30 s:\n{process.tail()}")
        code = process.proc.returncode
        if code >= 0 or attempt == 3:
            raise AssertionError(f"{name} ended (exit {code}) at start:\n{process.tail()}")
        with process.log.open("a", encoding="utf-8") as out:
            out.write(f"--- {name} died of signal {-code} at start; starting it again\n")
    raise AssertionError("unreachable")


def self_signed(folder: Path) -> Path:
    """A certificate and key for localhost where deploy/nginx.conf reads them (tls/)."""
    tls = folder / "tls"
    tls.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(tls / "privkey.pem"),
            "-out",
            str(tls / "fullchain.pem"),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return tls / "fullchain.pem"


SEED = """
import asyncio, sys
from accounts.tokens import create_token
from diaspor.compose import build_station
from diaspor.demo import load_demo_content
from diaspor.demo_schedule import load_demo_schedule
from station.logs import configure_logging
from station.settings import Settings

settings = Settings()
configure_logging(settings.log_format, settings.log_level)
st = build_station(settings)
asyncio.run(load_demo_content(st))
asyncio.run(st.worker().drain())
load_demo_schedule(st)
print("TOKEN " + create_token(st.db, st.clock, "edge test admin", "admin"), flush=True)
st.close()
"""


@contextlib.contextmanager
def native_stack(
    work: Path, *, log: Callable[[str], None] = print, extra_env: Mapping[str, str] | None = None
) -> Iterator[Stack]:
    """The topology, on the air with the demo content, for as long as the block runs."""
    # One run at a time on a machine (fixed ports and addresses): a second waits its turn.
    with open(LOCK, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another run of the topology holds {LOCK}; waiting for it to end")
            fcntl.flock(lock, fcntl.LOCK_EX)
        with _native_stack(work, log=log, extra_env=extra_env) as stack:
            yield stack


@contextlib.contextmanager
def _native_stack(
    work: Path, *, log: Callable[[str], None], extra_env: Mapping[str, str] | None
) -> Iterator[Stack]:
    reason = why_not()
    assert reason is None, reason
    work.mkdir(parents=True, exist_ok=True)
    secrets_ = {
        name: secrets.token_hex(16)
        for name in (
            "POSTGRES_PASSWORD",
            "MINIO_ROOT_PASSWORD",
            "S3_SECRET_KEY",
            "DIASPOR_ADMIN_TOKEN",
            "ICECAST_SOURCE_PASSWORD",
            "ICECAST_RELAY_PASSWORD",
            "ICECAST_ADMIN_PASSWORD",
            "ICECAST_AUTH_SECRET",
        )
    }
    variables = {**secrets_, "PUBLIC_URL": PUBLIC_URL}
    services = compose_services()
    envs = {name: container_env(svc, variables) for name, svc in services.items()}
    for env in envs.values():
        env.update(extra_env or {})
    # nginx's folder (its certificate, its cache) outside pytest's private folders: its
    # workers run as nobody and must reach the cache.
    nginx_dir = Path(tempfile.mkdtemp(prefix="diaspor-nginx-"))
    nginx_dir.chmod(0o755)
    ca = self_signed(nginx_dir)
    stack: Stack | None = None
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, nginx_dir, ignore_errors=True)
        database_url = cleanup.enter_context(scratch_database(PG_SERVER, "diaspor_edge"))
        secrets_["database_url"] = database_url
        stack = Stack(
            work=work,
            public_url=PUBLIC_URL,
            ca_file=ca,
            relay_url=f"http://{HOSTS['icecast-relay'][0]}:8000",
            master_url=f"http://{HOSTS['icecast'][0]}:8000",
            radio_mounts=[],
            tv_master_playlist="",
            admin_token="",
            secrets=secrets_,
            hosts=hosts_file(work / "hosts"),
            envs=envs,
            nginx_dir=nginx_dir,
        )
        cleanup.callback(stop_all, stack)
        bring_up(stack, services, log)
        yield stack


def stop_all(stack: Stack) -> None:
    for name in reversed(list(stack.processes)):
        stop_process(stack.processes[name], signal.SIGTERM if name == "nginx" else signal.SIGINT)


def bring_up(stack: Stack, services: dict[str, dict[str, Any]], log: Callable[[str], None]) -> None:
    t0 = time.monotonic()

    def say(what: str) -> None:
        log(f"[{time.monotonic() - t0:5.1f} s] {what}")

    api_env = stack.envs["api"]
    # migrate: the schema, before anything else starts.
    migrate = stack.start_diaspor("migrate", "migrate", "127.0.0.1")
    assert migrate.proc.wait(120) == 0, f"diaspor db upgrade failed:\n{migrate.tail()}"
    stack.ended_on_purpose.add("migrate")
    say("schema migrated")

    # minio + minio-init: moto's S3 server, and the bucket.
    s3_host = HOSTS["minio"][0]
    stack.start("s3", [str(BIN / "moto_server"), "-H", s3_host, "-p", "9000"], names=False)
    bucket = api_env["DIASPOR_S3_BUCKET"]
    stack.wait(
        "the S3 server",
        lambda: httpx.put(f"http://{s3_host}:9000/{bucket}", timeout=2).status_code == 200,
        30,
    )
    # `mc anonymous set download`: anyone may read an object (what nginx's /files/ does).
    anyone_reads = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }
    boto3.client(
        "s3",
        endpoint_url=f"http://{s3_host}:9000",
        region_name=api_env["DIASPOR_S3_REGION"],
        aws_access_key_id=api_env["DIASPOR_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=api_env["DIASPOR_S3_SECRET_ACCESS_KEY"],
    ).put_bucket_policy(Bucket=bucket, Policy=json.dumps(anyone_reads))
    say(f"S3 up, bucket {bucket} made, its objects readable by anyone")

    # The demo content, as `diaspor demo` loads it, into the production database and bucket.
    seed_env = {**api_env, **stack.local_env("seed", "127.0.0.1")}
    seed = stack.start("seed", [sys.executable, "-c", SEED], env=seed_env)
    start_icecast(stack, "icecast", ICECAST_XML, HOSTS["icecast"][0])
    say("icecast2 master up")
    fallback_env = {
        **stack.envs["radio-fallback"],
        **stack.local_env("radio-fallback", "127.0.0.1"),
    }
    svc = services["radio-fallback"]
    command = [a.replace(SCRATCH, str(stack.work / "radio-fallback")) for a in argv(svc["command"])]
    stack.start("radio-fallback", [str(BIN / "diaspor"), *command[1:]], env=fallback_env)
    stack.wait(
        "the fallback loop on every fallback mount",
        lambda: len([m for m in icecast_status(stack.master_url) if "-fallback." in m]) == 3,
        90,
    )
    say("fallback loop on the master")
    start_icecast(stack, "icecast-relay", RELAY_XML, HOSTS["icecast-relay"][0])
    relayed = ET.fromstring(RELAY_XML.read_text(encoding="utf-8")).findall("relay")
    stack.radio_mounts = [str(r.findtext("local-mount")) for r in relayed]
    stack.wait(
        "the relay carrying every station mount",
        lambda: set(stack.radio_mounts) <= set(icecast_status(stack.relay_url)),
        60,
    )
    say("relay up")

    if seed.proc.wait(600) != 0:
        raise AssertionError(f"the demo content did not load:\n{seed.tail()}")
    stack.ended_on_purpose.add("seed")
    token_lines = [ln for ln in seed.log.read_text().splitlines() if ln.startswith("TOKEN ")]
    stack.admin_token = token_lines[-1].split(" ", 1)[1]
    say("demo content loaded")

    for i, host in enumerate(HOSTS["api"], 1):
        stack.start_diaspor(f"api-{i}", "api", host)
    stack.start_diaspor("worker", "worker", HOSTS["worker"][0])
    stack.start_diaspor("playout", "playout", HOSTS["playout"][0])
    for host in HOSTS["api"]:
        stack.wait(f"the API at {host}", lambda h=host: api_health(h), 60)
    say("both API processes answer")
    stack.wait("playout to lead", lambda: role(stack, "playout") == "leader", 60)
    stack.start_diaspor("playout-standby", "playout-standby", HOSTS["playout-standby"][0])
    stack.wait("the standby", lambda: role(stack, "playout-standby") == "standby", 60)
    say("playout leads, its standby stands by")

    nginx_dir = stack.nginx_dir
    (nginx_dir / "nginx.conf").unlink(missing_ok=True)
    (nginx_dir / "nginx.conf").symlink_to(NGINX_CONF)  # the file itself, not a copy
    stack.start(
        "nginx",
        [
            "nginx",
            "-p",
            str(nginx_dir),
            "-c",
            str(nginx_dir / "nginx.conf"),
            "-g",
            f"daemon off; pid {nginx_dir / 'nginx.pid'};",
        ],
    )
    with stack.client(timeout=5) as c:
        stack.wait("nginx", lambda: c.get("/health").status_code == 200, 30)
        say("nginx answers over HTTPS")
        stack.wait(
            "playout on the master's station mounts",
            lambda: (
                set(stack.radio_mounts) <= set(icecast_status(stack.master_url))
                and on_air_titles(stack)
            ),
            120,
        )
        say("the radio is on air")

        def tv_hls() -> str | None:
            tv = c.get("/api/v1/channels/diaspor-tv").json()
            found = [s["url"] for s in tv["streams"] if s["format"] == "hls"]
            return httpx.URL(found[0]).path if found else None

        stack.tv_master_playlist = stack.wait("the TV channel's HLS stream", tv_hls, 300)
        stack.wait(
            "the TV playlist through nginx",
            lambda: c.get(stack.tv_master_playlist).status_code == 200,
            300,
        )
        say("the TV is on air")


def api_health(host: str) -> bool:
    return httpx.get(f"http://{host}:8000/health", timeout=3).status_code == 200


def role(stack: Stack, name: str) -> str | None:
    host = HOSTS[name][0]
    port = stack.envs[name]["DIASPOR_METRICS_PORT"]
    body = httpx.get(f"http://{host}:{port}/health", timeout=3).json()
    return str(body.get("role")) if isinstance(body, dict) and body.get("role") else None


def on_air_titles(stack: Stack) -> bool:
    """Whether the master's main mount carries a title set by playout (not the loop's)."""
    status = icecast_status(stack.master_url)
    main = status.get(stack.radio_mounts[0] if stack.radio_mounts else "", {})
    return bool(main.get("title") or main.get("yp_currently_playing"))


def json_lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict):
                out.append(entry)
    return out
