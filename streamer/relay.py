"""The built-in Icecast-compatible relay's server: sources in, listeners out, on one TCP port.

It speaks what icecast2 speaks, so playout, players and tests cannot tell them apart:

- sources: `PUT /mount HTTP/1.1` (ffmpeg's `icecast://`, with or without
  `Expect: 100-continue`) and the legacy `SOURCE /mount HTTP/1.0` (BUTT, Mixxx, libshout;
  `SOURCE /mount ICE/1.0` with an `ice-password` header too), Basic auth as user `source`;
  on the mounts a `source_auth` hook handles (presenters' live mounts) only the credentials
  it accepts, for a time: like icecast2's URL authentication;
- listeners: `GET /mount`, with ICY metadata every 8192 bytes when asked (`Icy-MetaData: 1`),
  the last `burst_bytes` first so players start at once (both fewer on a slower mount,
  `set_bitrate`);
- `GET /admin/metadata?mount=...&mode=updinfo&song=...` to set a mount's title;
- `GET /status-json.xsl`, shaped like icecast2's (see `relay_admin.status_json` for the one
  difference).

It is a plain `asyncio.start_server`, not an HTTP framework: a source's body has no length
and lasts as long as the broadcast, which request/response frameworks cannot read.

When a source goes away, its listeners are kept for `source_grace` seconds, so an encoder
restart on the same mount is a short gap rather than a disconnect.

This module is the shell that does the I/O and owns the mounts' lifetimes; what it parses and
sends is in relay_http.py, what happens to a mount's bytes (burst, batches, slow listeners)
in relay_mount.py, the admin and status answers in relay_admin.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from station.clock import Clock, SystemClock
from station.logs import address_tag
from streamer.icy import IcyWriter, metaint_for
from streamer.relay_admin import (
    METADATA_PATH,
    STATUS_PATH,
    metadata_update,
    status_json,
    status_response,
)
from streamer.relay_http import (
    CONTROL_CHARACTERS,
    BadRequest,
    RelayError,
    Request,
    StreamInfo,
    authentication_required,
    basic_credentials,
    http_response,
    listener_response_head,
    parse_request_head,
    source_authorised,
    stream_info_from_headers,
)
from streamer.relay_mount import Listener, Mount, MountStatus

log = logging.getLogger(__name__)

MAX_HEAD_LINES = 100
MAX_LINE_BYTES = 16 * 1024
SOURCE_READ_BYTES = 64 * 1024
BATCH_INTERVAL = 0.1  # seconds a source's bytes may wait to be fanned out
BATCH_BYTES = 16 * 1024  # ...or fewer, when this many have come in first


@dataclass(frozen=True, slots=True)
class SourceGrant:
    """A source let in. One with `until` (a presenter, to the end of their slot) is
    disconnected then."""

    until: datetime | None = None


class SourceAuth(Protocol):
    """Who decides for some mounts (presenters' live mounts): on those, only it lets a source
    in (the source password is not enough); on every other mount, the source password."""

    async def handles(self, mount: str, /) -> bool: ...

    async def __call__(
        self, mount: str, user: str, password: str, address: str, /
    ) -> SourceGrant | None: ...


class ListenerSessions(Protocol):
    """Told of every listener's session (the audience ledger, wired in by diaspor): when it
    joins (its key, unique across relays and restarts, the mount, the client's address and
    User-Agent, the time), every `every_s` while it listens, and when it leaves, with the
    seconds and bytes sent so far. Each call runs on the relay's loop and must return at once
    (queue it; never wait on a database here)."""

    every_s: float

    def joined(
        self, key: str, mount: str, address: str, user_agent: str, at: datetime, /
    ) -> None: ...

    def going(self, key: str, at: datetime, seconds: int, nbytes: int, /) -> None: ...

    def left(self, key: str, at: datetime, seconds: int, nbytes: int, /) -> None: ...


SPARE_CONNECTIONS = 256  # beyond max_listeners: sources, status and requests being read


class Relay:
    """An Icecast-compatible server for the embedded mode; see the module docstring."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        source_password: str,
        admin_user: str = "admin",
        admin_password: str,
        burst_bytes: int = 64 * 1024,
        max_queue_bytes: int = 256 * 1024,
        max_listeners: int = 10_000,
        max_listeners_per_address: int = 100,
        batch_interval: float = BATCH_INTERVAL,
        batch_bytes: int = BATCH_BYTES,
        source_grace: float = 5.0,
        source_timeout: float = 10.0,
        header_timeout: float = 15.0,
        stream_defaults: StreamInfo | None = None,
        hostname: str | None = None,
        admin_email: str = "",
        location: str = "",
        clock: Clock | None = None,
        source_auth: SourceAuth | None = None,
        listener_sessions: ListenerSessions | None = None,
        client_behind: Callable[[str, str], str] | None = None,
    ) -> None:
        if burst_bytes < 0 or max_queue_bytes <= burst_bytes:
            raise ValueError("need 0 <= burst_bytes < max_queue_bytes")
        if batch_interval < 0 or batch_bytes < 1:
            raise ValueError("need batch_interval >= 0 and batch_bytes >= 1")
        self.host = host
        self._port = port
        self._source_password = source_password
        self._source_auth = source_auth
        self._sessions = listener_sessions
        # A listener's address behind a reverse proxy in front of the relay: given the peer and
        # its X-Forwarded-For, the client (the header believed only from trusted proxies).
        self._client_behind = client_behind
        # Listener keys: a random id per relay start, then a counter (unique across relays,
        # processes and restarts, so a session reported twice is still one).
        self._run_id = secrets.token_hex(6)
        self._listener_ids = itertools.count(1)
        # Who may set a title: the admin, and a source with the source password (as icecast2).
        self._title_accounts = ((admin_user, admin_password), ("source", source_password))
        self.burst_bytes = burst_bytes
        self.max_queue_bytes = max_queue_bytes  # what a slow listener may hold, then dropped
        # Listeners in all, and from one address (a crowd behind one NAT is allowed for;
        # one client opening thousands is not): past either, a clear 503.
        self.max_listeners = max_listeners
        self.max_listeners_per_address = max_listeners_per_address
        self._by_address: dict[str, int] = {}
        self.batch_interval = batch_interval
        self.batch_bytes = batch_bytes
        self.source_grace = source_grace
        self.source_timeout = source_timeout
        self.header_timeout = header_timeout
        self.stream_defaults = stream_defaults or StreamInfo()
        self.hostname = hostname or host
        self.admin_email = admin_email
        self.location = location
        self._clock: Clock = clock or SystemClock()
        self._mounts: dict[str, Mount] = {}
        self._server: asyncio.Server | None = None
        self._started: datetime | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._timers: set[asyncio.Task[None]] = set()
        self._transports: set[asyncio.WriteTransport] = set()

    # lifecycle

    @property
    def port(self) -> int:
        """The port actually listened on (useful when constructed with port 0)."""
        if self._server is None:
            raise RelayError("the relay is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def base_url(self) -> str:
        return f"http://{self.hostname}:{self.port}"

    async def start(self) -> None:
        if self._server is not None:
            return
        try:
            self._server = await asyncio.start_server(
                self._handle, self.host, self._port, limit=MAX_LINE_BYTES
            )
        except OSError as e:
            raise RelayError(f"the relay cannot listen on {self.host}:{self._port}: {e}") from e
        self._started = self._clock.now()
        self._run_id = secrets.token_hex(6)
        if self._sessions is not None:
            beat = asyncio.create_task(self._heartbeat(self._sessions))
            self._timers.add(beat)
            beat.add_done_callback(self._timers.discard)
        log.info("relay listening", extra={"host": self.host, "port": self.port})

    async def stop(self) -> None:
        """Close the port and every connection; returns when all of its tasks have ended."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for timer in self._timers:
            timer.cancel()
        for mount in self._mounts.values():
            # What came in last goes out before the connections are cut.
            mount.fan_out(self.max_queue_bytes)
        # Cutting the connections ends their handlers the ordinary way (end of input). They
        # are not cancelled: on 3.11, asyncio.start_server logs a cancelled handler as an error.
        for transport in list(self._transports):
            transport.abort()
        pending = self._connections | self._timers
        if pending:
            _, stuck = await asyncio.wait(pending, timeout=5)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        await server.wait_closed()
        for mount in self._mounts.values():
            mount.listeners.clear()
            mount.live = mount.on_air = False
        log.info("relay stopped")

    async def __aenter__(self) -> Relay:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # embedded use

    def set_title(self, mount: str, title: str) -> None:
        """Set a mount's title directly; it is kept for a source that has not connected yet.

        Like everything on the relay, call it from the relay's event loop (from another
        thread, through `loop.call_soon_threadsafe`).
        """
        self._mount(mount).set_title(title, self.max_queue_bytes)
        log.info("title updated", extra={"mount": mount, "title": title})

    def set_bitrate(self, mount: str, kbps: int) -> None:
        """A mount's bit rate. One slower than 128 kbit/s (the low AAC for phones) then gives
        its listeners the same seconds of audio as one at 128 does: between title blocks
        (`streamer.icy.metaint_for`), and in the burst a new listener gets at once (the
        relay's `burst_bytes` are for 128 kbit/s; a burst twice as long would start a listener
        twice as far behind the title it is shown). For listeners who connect from now on."""
        if kbps <= 0:
            raise ValueError("a bit rate must be positive")
        m = self._mount(mount)
        m.metaint = metaint_for(kbps)
        m.burst_bytes = min(self.burst_bytes, self.burst_bytes * kbps // 128)

    def stats(self) -> tuple[MountStatus, ...]:
        """Every mount that has a source or is waiting for it to come back."""
        return tuple(m.status() for m in self._mounts.values() if m.on_air)

    def status(self) -> dict[str, Any]:
        """The `/status-json.xsl` document."""
        if self._started is None or self._server is None:
            raise RelayError("the relay is not started")
        return status_json(
            self.stats(),
            base_url=self.base_url,
            admin=self.admin_email,
            host=self.hostname,
            location=self.location,
            server_start=self._started,
        )

    async def _heartbeat(self, sessions: ListenerSessions) -> None:
        """Every listener's seconds and bytes so far, every `sessions.every_s`."""
        while True:
            # The loop's time, not the injected clock: reports are real I/O (as batches are).
            await asyncio.sleep(sessions.every_s)
            now = self._clock.now()
            for mount in self._mounts.values():
                for listener in mount.listeners:
                    sessions.going(
                        listener.key, now, listener.seconds(now), mount.bytes_sent_to(listener)
                    )

    def _mount(self, name: str) -> Mount:
        mount = self._mounts.get(name)
        if mount is None:
            mount = self._mounts[name] = Mount(name, self.stream_defaults)
        return mount

    # connections

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._connections) >= self.max_listeners + SPARE_CONNECTIONS:
            writer.transport.abort()  # past every listener and source it could serve
            return
        self._connections.add(task)
        self._transports.add(writer.transport)
        peer = writer.get_extra_info("peername")
        # The client's address: used to count listeners per address, to let live sources in
        # and to report sessions, and never logged (only its tag is: `address_tag`).
        client = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        tag = address_tag(client)
        try:
            try:
                async with asyncio.timeout(self.header_timeout):
                    request = parse_request_head(await _read_head(reader))
            except BadRequest as e:
                log.info("bad request", extra={"client": tag, "error": e.message})
                writer.write(http_response(400, e.message.encode()))
                return
            except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            await self._route(request, reader, writer, client)
        except (ConnectionError, OSError) as e:
            log.debug("connection ended", extra={"client": tag, "error": str(e)})
        finally:
            self._connections.discard(task)
            self._transports.discard(writer.transport)
            await _close(writer)

    async def _route(
        self,
        request: Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        client: str,
    ) -> None:
        if request.method in ("SOURCE", "PUT"):
            await self._serve_source(request, reader, writer, client)
        elif request.method not in ("GET", "HEAD"):
            writer.write(http_response(405, b"Method not allowed", headers=[("Allow", "GET")]))
        elif request.path == STATUS_PATH:
            writer.write(status_response(self.status()))
        elif request.path == METADATA_PATH:
            accounts, mounts = self._title_accounts, self._mounts
            answer = metadata_update(
                request,
                address_tag(client),
                accounts=accounts,
                mounts=mounts,
                set_title=self.set_title,
            )
            writer.write(answer)
        else:
            await self._serve_listener(request, reader, writer, client)

    async def _serve_source(
        self,
        request: Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        client: str,
    ) -> None:
        name = request.path
        ctx = {"mount": name, "client": address_tag(client)}
        grant: SourceGrant | None = None
        auth = self._source_auth
        if auth is not None and await auth.handles(name):
            creds = basic_credentials(request.headers)
            if creds is not None:
                grant = await auth(name, creds[0], creds[1], client)
        elif source_authorised(request, self._source_password):
            grant = SourceGrant()
        if grant is None:
            log.warning("source refused: wrong credentials", extra=ctx)
            writer.write(authentication_required())
            return
        reserved = name in ("/", STATUS_PATH) or name.startswith("/admin")
        if reserved or ".." in name or CONTROL_CHARACTERS.search(name) or " " in name:
            writer.write(http_response(403, b"Mountpoint not allowed"))
            return
        mount = self._mount(name)
        if mount.live:
            log.warning("source refused: mount already has a source", extra=ctx)
            writer.write(http_response(403, b"Mountpoint in use"))
            return
        if request.headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\n\r\n")
        came_back = mount.grace is not None
        mount.attach(
            stream_info_from_headers(request.headers, self.stream_defaults), self._clock.now()
        )
        kind, kept = mount.info.content_type, len(mount.listeners)
        log.info(
            "source came back; listeners kept" if came_back else "source connected",
            extra={**ctx, "content_type": kind, "listeners": kept},
        )
        reason = "source disconnected; listeners wait for it to come back"
        burst_bytes = self.burst_bytes if mount.burst_bytes is None else mount.burst_bytes
        try:
            while True:
                wait = self.source_timeout
                if grant.until is not None:
                    left = (grant.until - self._clock.now()).total_seconds()
                    if left <= 0:
                        reason = "source's time is up (the end of its slot): disconnected"
                        break
                    wait = min(wait, left)
                try:
                    async with asyncio.timeout(wait):
                        data = await reader.read(SOURCE_READ_BYTES)
                except TimeoutError:
                    if wait < self.source_timeout:
                        continue  # its time is up: said at the top of the loop
                    raise
                if not data:
                    break
                mount.receive(
                    data,
                    burst_bytes=burst_bytes,
                    batch_bytes=self.batch_bytes,
                    batch_interval=self.batch_interval,
                    max_queue_bytes=self.max_queue_bytes,
                )
        except TimeoutError:
            reason = "source timed out: no data; listeners wait for it to come back"
        finally:
            self._detach_source(mount)
            received = mount.bytes_received
            log.info(reason, extra={**ctx, "bytes": received, "grace": self.source_grace})

    def _detach_source(self, mount: Mount) -> None:
        mount.detach(self.max_queue_bytes)
        if self._server is None:  # stopping: nothing to wait for
            return
        task = asyncio.create_task(self._expire(mount))
        mount.grace = task
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _expire(self, mount: Mount) -> None:
        await self._clock.sleep(self.source_grace)
        mount.grace = None
        if mount.live:
            return
        mount.off_air()

    async def _serve_listener(
        self,
        request: Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        client: str,
    ) -> None:
        mount = self._mounts.get(request.path)
        if mount is None or not mount.on_air:
            writer.write(http_response(404, b"The file you requested could not be found"))
            return
        wants_icy = request.headers.get("icy-metadata", "").strip() == "1"
        metaint = mount.metaint if wants_icy else None
        address = client
        if self._client_behind is not None:
            address = self._client_behind(client, request.headers.get("x-forwarded-for", ""))
        total = sum(len(m.listeners) for m in self._mounts.values())
        if request.method != "HEAD" and (
            total >= self.max_listeners
            or self._by_address.get(address, 0) >= self.max_listeners_per_address
        ):
            log.warning(
                "listener refused: too many listeners",
                extra={"mount": mount.name, "client": address_tag(address), "listeners": total},
            )
            writer.write(http_response(503, b"Too many listeners", headers=[("Retry-After", "30")]))
            return
        writer.write(listener_response_head(mount.info, metaint))
        if request.method == "HEAD":
            return
        key = f"relay:{self._run_id}:{next(self._listener_ids)}"
        framer = IcyWriter(metaint) if metaint else None
        joined = self._clock.now()
        listener = Listener(writer.transport, framer, address_tag(address), key, joined)
        mount.join(listener)
        self._by_address[address] = self._by_address.get(address, 0) + 1
        ctx = {"mount": mount.name, "client": listener.peer}
        log.info("listener connected", extra={**ctx, "listeners": len(mount.listeners)})
        sessions = self._sessions
        if sessions is not None:
            agent = request.headers.get("user-agent", "")
            sessions.joined(key, mount.name, address, agent, joined)
        try:
            # A listener says nothing after its request; end of input means it has gone.
            while await reader.read(4096):
                pass
        finally:
            left = self._by_address.get(address, 1) - 1
            if left:
                self._by_address[address] = left
            else:
                self._by_address.pop(address, None)
            if mount.leave(listener):
                log.info("listener left", extra={**ctx, "listeners": len(mount.listeners)})
            if sessions is not None:
                now = self._clock.now()
                sessions.left(key, now, listener.seconds(now), mount.bytes_sent_to(listener))


async def _read_head(reader: asyncio.StreamReader) -> list[bytes]:
    """Lines up to the blank one; bare LF endings are accepted (some old source clients)."""
    lines: list[bytes] = []
    while True:
        line = await reader.readuntil(b"\n")
        line = line.rstrip(b"\r\n")
        if not line:
            if lines:
                return lines
            continue  # stray blank lines before a request are ignored, as HTTP allows
        if len(lines) >= MAX_HEAD_LINES:
            raise BadRequest("too many header lines")
        lines.append(line)


async def _close(writer: asyncio.StreamWriter) -> None:
    transport = writer.transport
    if transport.get_write_buffer_size():
        # Whatever a peer has not read by now it will not read promptly; do not wait on it.
        with contextlib.suppress(TimeoutError, ConnectionError, OSError):
            await asyncio.wait_for(writer.drain(), 2.0)
    if transport.get_write_buffer_size():
        transport.abort()
    else:
        writer.close()
    with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
        await writer.wait_closed()
