"""One conformance suite, two servers: the built-in relay and a real icecast2.

Every story runs against both, with the same clients: ffmpeg's `icecast://` as the source
(what the station's encoder uses), a BUTT-style `SOURCE` client, `update_title` for the
now-playing title, a classic ICY listener (`IcyReader`) for the title, and ffmpeg as a
player to prove the audio decodes. icecast2 runs on a copy of deploy/icecast.xml where only
the port differs; the relay is started with the same passwords.
"""

from __future__ import annotations

import asyncio
import base64
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from media.binaries import Tools
from streamer.icecast_admin import IcecastAdminError, update_title
from streamer.icy import ICY_METAINT, IcyReader, parse_response_head
from streamer.relay import Relay
from tests.support import free_port, need, need_program, run

ICECAST_XML = Path(__file__).resolve().parents[1] / "deploy" / "icecast.xml"
ICECAST_SHARE = Path("/usr/share/icecast2")  # Debian's web/ and admin/ folders
TITLE = "Aşıq Ələsgər - Vətən ğışçöü"
STREAM_NAME = "Diaspor.FM — konformans"
GENRE = "Muğam"
MP3 = ("-c:a", "libmp3lame", "-b:a", "128k", "-content_type", "audio/mpeg", "-f", "mp3")
AAC = ("-c:a", "aac", "-b:a", "128k", "-content_type", "audio/aac", "-f", "adts")


@dataclass(frozen=True)
class Server:
    kind: str
    port: int
    source_password: str
    admin_user: str
    admin_password: str
    logs: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def describe(self) -> str:
        if self.logs is None or not self.logs.exists():
            return self.kind
        return f"{self.kind}; its log ends:\n{self.logs.read_text(errors='replace')[-2000:]}"


def shipped_credentials() -> dict[str, str]:
    """The passwords in deploy/icecast.xml, so both servers are configured alike."""
    auth = ET.parse(ICECAST_XML).getroot().find("authentication")
    assert auth is not None
    return {
        "source_password": auth.findtext("source-password", ""),
        "admin_user": auth.findtext("admin-user", ""),
        "admin_password": auth.findtext("admin-password", ""),
    }


# --- the two servers ------------------------------------------------------------------------


@contextmanager
def relay_in_a_thread() -> Iterator[Server]:
    """The relay on its own event loop in a background thread, as the API process hosts it."""
    creds = shipped_credentials()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="relay", daemon=True)
    thread.start()
    relay = Relay("127.0.0.1", 0, hostname="localhost", source_grace=1.0, **creds)
    try:
        asyncio.run_coroutine_threadsafe(relay.start(), loop).result(10)
        yield Server("relay", relay.port, **creds)
    finally:
        try:
            asyncio.run_coroutine_threadsafe(relay.stop(), loop).result(15)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()


@contextmanager
def icecast2_running(
    log_path: Path,
    edits: Mapping[str, str] | None = None,
    port: int | None = None,
    template: Path = ICECAST_XML,
) -> Iterator[Server]:
    """icecast2 on a free port from a temporary folder laid out as deploy/icecast.xml expects.

    icecast2 will not run as root, so as root it is started as `nobody` (setpriv execs it in
    place, so the process we stop is icecast2 itself). The folder is made outside pytest's
    tmp_path, whose parents `nobody` cannot enter.
    """
    binary = need_program("icecast2")
    need(
        (ICECAST_SHARE / "web").is_dir() and (ICECAST_SHARE / "admin").is_dir(),
        f"icecast2's web files are missing from {ICECAST_SHARE}",
    )
    port = port or free_port()
    shipped = template.read_text(encoding="utf-8")
    config = shipped.replace("<port>8000</port>", f"<port>{port}</port>")
    assert config != shipped, f"deploy/{template.name} no longer listens on <port>8000</port>"
    for old, new in (edits or {}).items():
        assert old in config, f"deploy/{template.name} no longer says {old}"
        config = config.replace(old, new)
    with tempfile.TemporaryDirectory(prefix="diaspor-icecast-") as folder:
        root = Path(folder)
        shutil.copytree(ICECAST_SHARE / "web", root / "web")
        shutil.copytree(ICECAST_SHARE / "admin", root / "admin")
        (root / "icecast.xml").write_text(config, encoding="utf-8")
        command = [binary, "-c", "icecast.xml"]
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            for path in [root, *root.rglob("*")]:
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            setpriv = need_program("setpriv")
            command = [
                setpriv,
                f"--reuid={nobody.pw_uid}",
                f"--regid={nobody.pw_gid}",
                "--clear-groups",
                "--",
                *command,
            ]
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(command, cwd=root, stdout=log_file, stderr=subprocess.STDOUT)
            server = Server("icecast2", port, logs=log_path, **shipped_credentials())
            try:
                # A machine running the suite's files side by side can be slow, and a port
                # picked free a moment ago may be taken meanwhile: one more start if it ended.
                deadline, tries = time.monotonic() + 60, 1
                while not answers(server):
                    if proc.poll() is not None and tries < 2:
                        tries += 1
                        time.sleep(1)
                        proc = subprocess.Popen(
                            command, cwd=root, stdout=log_file, stderr=subprocess.STDOUT
                        )
                    elif proc.poll() is not None or time.monotonic() > deadline:
                        state = f"exit {proc.returncode}" if proc.poll() is not None else "running"
                        pytest.fail(f"icecast2 did not start ({state}; {server.describe()})")
                    time.sleep(0.05)
                yield server
            finally:
                stop(proc)


@pytest.fixture(
    scope="module", params=["relay", pytest.param("icecast2", marks=pytest.mark.icecast)]
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    if request.param == "relay":
        with relay_in_a_thread() as relay:
            yield relay
    else:
        with icecast2_running(tmp_path_factory.mktemp("icecast2") / "icecast2.log") as icecast:
            yield icecast


# --- clients --------------------------------------------------------------------------------


def answers(server: Server) -> bool:
    """The status page is up and is JSON. (For its first moments icecast2 2.4.4 serves a
    malformed document, before its own stats are filled in.)"""
    try:
        response = httpx.get(f"{server.base_url}/status-json.xsl", timeout=1)
        return response.status_code == 200 and isinstance(response.json().get("icestats"), dict)
    except (httpx.HTTPError, ValueError):
        return False


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def mounts(server: Server) -> dict[str, dict[str, Any]]:
    """The status page's sources by mount. icecast2 gives one source as an object and none as
    no key at all; the relay always gives a list."""
    stats = httpx.get(f"{server.base_url}/status-json.xsl", timeout=5).json()["icestats"]
    sources = stats.get("source", [])
    sources = sources if isinstance(sources, list) else [sources]
    return {"/" + s["listenurl"].split("/", 3)[3]: s for s in sources}


def wait_until_listed(server: Server, mount: str, source: subprocess.Popen[Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while mount not in (listed := mounts(server)):
        if source.poll() is not None:
            pytest.fail(f"the source for {mount} stopped with {source.returncode}")
        if time.monotonic() > deadline:
            pytest.fail(f"{mount} never appeared on {server.describe()}")
        time.sleep(0.05)
    return listed[mount]


@contextmanager
def ffmpeg_source(
    tools: Tools, server: Server, mount: str, codec: tuple[str, ...], log_dir: Path
) -> Iterator[subprocess.Popen[Any]]:
    """ffmpeg pushing a live sine tone over `icecast://`, as the station's encoder does."""
    url = (
        f"icecast://source:{quote(server.source_password, safe='')}@127.0.0.1:{server.port}{mount}"
    )
    args = [
        tools.ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:sample_rate=44100:d=60",
        "-ac",
        "2",
        *codec[:-2],
        "-ice_name",
        STREAM_NAME,
        "-ice_genre",
        GENRE,
        "-ice_url",
        "https://diaspor.fm",
        "-ice_description",
        "Vətən uzaqda deyil",
        *codec[-2:],
        url,
    ]
    with (log_dir / f"source{mount.replace('/', '-')}.log").open("wb") as log:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
        try:
            yield proc
        finally:
            stop(proc)


@contextmanager
def butt_style_source(tools: Tools, server: Server, mount: str) -> Iterator[threading.Thread]:
    """A legacy `SOURCE` client, as BUTT and Mixxx speak it, declaring its bitrate."""
    encoder = subprocess.Popen(
        [
            tools.ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "sine=f=330:sample_rate=44100:d=60",
            "-ac",
            "2",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            "-f",
            "mp3",
            "pipe:1",
        ],
        stdout=subprocess.PIPE,
    )
    sock = socket.socket()
    done = threading.Event()

    def pump() -> None:
        assert encoder.stdout is not None
        while not done.is_set() and (chunk := encoder.stdout.read1(4096)):
            try:
                sock.sendall(chunk)
            except OSError:
                return

    thread = threading.Thread(target=pump, name="butt", daemon=True)
    try:
        sock.settimeout(5)
        sock.connect(("127.0.0.1", server.port))
        auth = base64.b64encode(f"source:{server.source_password}".encode()).decode()
        sock.sendall(
            (
                f"SOURCE {mount} HTTP/1.0\r\nAuthorization: Basic {auth}\r\n"
                "User-Agent: butt 0.1.40\r\nContent-Type: audio/mpeg\r\n"
                f"ice-name: {STREAM_NAME}\r\nice-genre: {GENRE}\r\nice-public: 0\r\n"
                "ice-audio-info: ice-bitrate=128;ice-channels=2;ice-samplerate=44100\r\n\r\n"
            ).encode()
        )
        answer = sock.recv(1024)
        assert answer.startswith(b"HTTP/1.0 200 OK"), answer
        thread.start()
        yield thread
    finally:
        done.set()
        stop(encoder)
        if thread.is_alive():
            thread.join(5)
        assert encoder.stdout is not None
        encoder.stdout.close()
        sock.close()


@dataclass
class Heard:
    status: int
    headers: dict[str, str]
    titles: list[str]
    audio_bytes: int


def listen_for_title(server: Server, mount: str, title: str, seconds: float = 10) -> Heard:
    """A classic ICY listener: asks for metadata and reads until `title` arrives (or time's up)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            f"GET {mount} HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: WinampMPEG/5.66\r\n"
            "Icy-MetaData: 1\r\n\r\n".encode()
        )
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            assert chunk, f"{server.kind} closed the connection before its response head"
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        response = parse_response_head(head)
        icy = IcyReader.from_headers(response.headers)
        icy.feed(rest)
        deadline = time.monotonic() + seconds
        while response.status == 200 and title not in icy.titles and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            icy.feed(chunk)
        return Heard(response.status, response.headers, icy.titles, icy.audio_bytes)


def start_player(tools: Tools, server: Server, mount: str) -> subprocess.Popen[str]:
    """ffmpeg as a player: decode 3 s of the stream and report how far it got."""
    return subprocess.Popen(
        [
            tools.ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-nostats",
            "-i",
            f"{server.base_url}{mount}",
            "-t",
            "3",
            "-f",
            "null",
            "-progress",
            "pipe:1",
            "-",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def decoded_seconds(player: subprocess.Popen[str]) -> float:
    try:
        out, err = player.communicate(timeout=20)
    finally:
        stop(player)
    assert player.returncode == 0, err
    times = [int(ln.split("=", 1)[1]) for ln in out.splitlines() if ln.startswith("out_time_us=")]
    return max(times, default=0) / 1e6


def set_title(server: Server, mount: str, title: str, password: str | None = None) -> None:
    run(
        update_title(
            server.base_url, mount, title, server.admin_user, password or server.admin_password
        )
    )


# --- the stories ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mount", "codec", "content_type"),
    [("/conformance.mp3", MP3, "audio/mpeg"), ("/conformance.aac", AAC, "audio/aac")],
    ids=["mp3", "aac"],
)
def test_the_encoders_stream_reaches_a_classic_listener_with_its_azerbaijani_title(
    server: Server,
    tools: Tools,
    tmp_path: Path,
    mount: str,
    codec: tuple[str, ...],
    content_type: str,
) -> None:
    with ffmpeg_source(tools, server, mount, codec, tmp_path) as source:
        listed = wait_until_listed(server, mount, source)
        assert listed["server_name"] == STREAM_NAME and listed["genre"] == GENRE
        assert listed["server_type"] == content_type

        set_title(server, mount, TITLE)
        player = start_player(tools, server, mount)
        try:
            heard = listen_for_title(server, mount, TITLE)
        finally:
            seconds = decoded_seconds(player)

        assert heard.status == 200
        assert TITLE in heard.titles, f"{server.kind} sent titles {heard.titles}"
        assert heard.headers["content-type"] == content_type
        assert heard.headers["icy-metaint"] == str(ICY_METAINT)  # both: 8192
        assert heard.headers["icy-name"] == STREAM_NAME
        assert heard.headers["icy-genre"] == GENRE
        # ffmpeg declares no bitrate, and neither server makes one up.
        assert "icy-br" not in heard.headers
        assert 2.9 <= seconds <= 3.2, f"decoded {seconds:.2f} s of {mount} from {server.kind}"
        assert mounts(server)[mount]["title"] == TITLE


def test_a_butt_style_source_declares_its_bitrate_to_listeners(
    server: Server, tools: Tools
) -> None:
    with butt_style_source(tools, server, "/legacy.mp3"):
        deadline = time.monotonic() + 10
        while "/legacy.mp3" not in mounts(server):
            assert time.monotonic() < deadline, f"/legacy.mp3 never listed on {server.kind}"
            time.sleep(0.05)
        # A source client sets its own titles with the source credentials.
        run(update_title(server.base_url, "/legacy.mp3", TITLE, "source", server.source_password))
        heard = listen_for_title(server, "/legacy.mp3", TITLE)
        assert TITLE in heard.titles
        assert heard.headers["icy-br"] == "128"
        assert heard.headers["icy-name"] == STREAM_NAME


def test_wrong_credentials_a_busy_mount_and_an_unknown_mount_are_refused(
    server: Server, tools: Tools, tmp_path: Path
) -> None:
    def source_status(mount: str, password: str) -> int:
        auth = base64.b64encode(f"source:{password}".encode()).decode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(
                f"PUT {mount} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: audio/mpeg\r\n"
                f"Authorization: Basic {auth}\r\n\r\n".encode()
            )
            return parse_response_head(sock.recv(4096).split(b"\r\n\r\n")[0]).status

    with ffmpeg_source(tools, server, "/busy.mp3", MP3, tmp_path) as source:
        wait_until_listed(server, "/busy.mp3", source)
        assert source_status("/busy.mp3", server.source_password) == 403
        assert source_status("/other.mp3", "not-the-password") == 401
        with pytest.raises(IcecastAdminError, match="401"):
            set_title(server, "/busy.mp3", TITLE, password="not-the-password")
        with pytest.raises(IcecastAdminError, match="Source does not exist"):
            set_title(server, "/nowhere.mp3", TITLE)
        assert httpx.get(f"{server.base_url}/nowhere.mp3", timeout=5).status_code == 404
