"""Which playout process may put the station on air: the one holding a PostgreSQL advisory
lock, on a connection of its own.

Two `diaspor playout` processes share one station database; each asks for the session-level
advisory lock `PLAYOUT_LOCK` (`pg_try_advisory_lock`; one lock per database, so one per
station). The one that gets it leads: it airs the channels. The other stands by and asks
again every `CHECK_S`. A lock held by a session is freed by the server the moment the session
ends, so:

- a leader killed outright (kill -9, a crash, an OOM kill): its kernel closes the socket,
  the server ends the session at once, and the standby has the lock at its next ask;
- a leader cut off from the server (a network partition, a frozen machine or process): the
  server ends the session `RELEASE_S` after it last heard from it. The lock connection is
  opened with settings that make sure of it, on both ends: the server's
  `idle_session_timeout` (the leader asks every `CHECK_S`, so only a leader that stopped
  asking is idle that long), TCP keepalives and `tcp_user_timeout` (a peer that stopped
  answering, or data left unacknowledged);
- the leader itself asks the server every `CHECK_S` whether its session lives. It *fences*:
  when an ask fails (the session ended: the server said so, or the socket closed), or when
  `LEASE_S` has passed since it sent the last ask that was answered, it can no longer
  prove that it leads, and its channels stop at once (diaspor/playout.py), before another
  can have the lock: an ask sent at t was answered, so the server had heard from the session
  at or after t, and will not end it before t + `RELEASE_S`, well after t + `LEASE_S`.
  Then it stands by like any other, and for `STEP_BACK_S` lets the standby that was waiting
  ask first (it asks every `CHECK_S`): the lead moves to the playout that can still prove it,
  and comes back only if that one does not take it.

When both might air, and for how long. A session that ends at once while its leader lives —
an operator's `pg_terminate_backend`, a server restart, a connection reset — frees the lock
before the leader can know: it learns it at its next ask, at most `CHECK_S` (plus the ask's
round trip) later, and stops its engines within a chunk (100 ms) of that. A new leader waits
`HANDOVER_S` after taking the lock before it airs (diaspor/playout.py), longer than that, so
even then the two do not overlap unless the old leader's stopping is held up (its event loop
blocked: then it stops as soon as it runs again). On a cut-off, the old leader has stopped
`RELEASE_S - LEASE_S` (2 s) before the server frees the lock.

A leader alone. Fencing is for handing over to a standby; stopping when nobody can take over
only silences the station, which must ride out a database that blinks (docs/architecture.md).
So a leader that loses its lock connection while no standby was waiting (the standbys name
themselves in `application_name`, and the leader counts them at every ask) stays on air,
says so loudly, and takes the lock again as soon as the server answers; if another playout
has it by then (a standby started meanwhile), it stops at once. A standby started while the
leader is cut off from the database but still on air may thus air beside it until the
leader reaches the database again: run the standby from the start, as compose does.

PostgreSQL 14 or newer (`idle_session_timeout`); on an older server a frozen leader (its
machine still answering TCP) keeps the lock, and the log says so. On SQLite there is no
standby: `diaspor playout` leads at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from station.backoff import Attempts, Backoff
from station.clock import Clock, SystemClock, pause
from station.supervisor import Health

if TYPE_CHECKING:
    from psycopg import AsyncConnection

log = logging.getLogger(__name__)

# The lock's key: "DIASPOR" in ASCII, as a 64-bit number (0x0044494153504F52). Advisory locks
# are per database, so each station database has its own.
PLAYOUT_LOCK = int.from_bytes(b"DIASPOR", "big")
CHECK_S = 0.5  # a leader asks whether its session lives, a standby asks for the lock, this often
LEASE_S = 2.0  # a leader unheard by the server this long (with a standby waiting) stops airing
RELEASE_S = 4  # the server ends a lock session it has not heard from for this long
HANDOVER_S = 1.0  # a new leader waits this long after taking the lock before it airs
STEP_BACK_S = 3 * CHECK_S  # a leader that lost the lead lets a standby ask first this long
CONNECT_S = 2  # a connection attempt given up after this long
NAME_PREFIX = "diaspor-playout"
PART = "leadership"  # in health: the lock connection's trouble, if any
RECONNECT = Backoff(base_s=CHECK_S, max_s=2.0, first_s=CHECK_S)


@dataclass(frozen=True, slots=True)
class Holder:
    """A playout process, as its lock connection names it (`application_name`)."""

    role: str  # "leader" or "standby"
    pid: int
    host: str

    @property
    def name(self) -> str:
        return f"{self.pid}@{self.host}"

    @property
    def connection_name(self) -> str:
        # PostgreSQL keeps 63 bytes of an application_name; the host is cut, not the role.
        return f"{NAME_PREFIX} {self.role} {self.name}".encode()[:63].decode(errors="ignore")

    def as_(self, role: str) -> Holder:
        return Holder(role, self.pid, self.host)

    @classmethod
    def parse(cls, connection_name: str) -> Holder | None:
        """The holder a connection name gives, or None if it is not a playout's."""
        parts = connection_name.split(" ", 2)
        if len(parts) != 3 or parts[0] != NAME_PREFIX or "@" not in parts[2]:
            return None
        pid, _, host = parts[2].partition("@")
        if parts[1] not in ("leader", "standby") or not pid.isdigit():
            return None
        return cls(parts[1], int(pid), host)


def this_process() -> Holder:
    return Holder("standby", os.getpid(), socket.gethostname())


def lock_connection_options(connection_name: str, *, idle_timeout: bool = True) -> dict[str, Any]:
    """libpq's settings for a lock connection: keepalives and a user timeout on this end (a
    dead server noticed in seconds), and the same on the server's end, with its idle-session
    timeout, so that the server ends the session of a leader it has not heard from for
    `RELEASE_S` (and with it frees the lock). `idle_timeout=False` for a server older than
    PostgreSQL 14, which has none."""
    release_ms = RELEASE_S * 1000
    server = {
        **({"idle_session_timeout": release_ms} if idle_timeout else {}),
        "tcp_keepalives_idle": RELEASE_S // 2,
        "tcp_keepalives_interval": 1,
        "tcp_keepalives_count": RELEASE_S // 2,
        "tcp_user_timeout": release_ms,
    }
    return {
        "autocommit": True,
        "application_name": connection_name,
        "connect_timeout": CONNECT_S,
        "keepalives": 1,
        "keepalives_idle": RELEASE_S // 2,
        "keepalives_interval": 1,
        "keepalives_count": RELEASE_S // 2,
        "tcp_user_timeout": release_ms,
        "options": " ".join(f"-c {k}={v}" for k, v in server.items()),
    }


def lock_halves(key: int) -> tuple[int, int]:
    """How pg_locks shows a bigint advisory key: (classid, objid), its high and low 32 bits."""
    return key >> 32, key & 0xFFFF_FFFF


TRY_LOCK = "SELECT pg_try_advisory_lock(%s)"
RENAME = "SELECT set_config('application_name', %s, false)"
# The standbys waiting on this database (a leader counts them at every ask).
STANDBYS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND application_name LIKE %s"
)
# Who holds the lock: its connection's name, or at least its server pid.
HOLDER = (
    "SELECT l.pid, a.application_name FROM pg_locks l "
    "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.classid::bigint = %s AND l.objid::bigint = %s"
)


class Lost(Exception):
    """The lock connection cannot be used: its session ended, or the server does not answer."""


class NoAnswer(Lost):
    """Nothing came back in time; the session may still live on the server."""


class Leadership:
    """Stand by until this process holds the lock (`wait_to_lead`), then keep it until it can
    no longer prove it does (`keep`). Its state shows in `health` (role, leader, and a
    `leadership` part degraded while the lock connection is in trouble)."""

    def __init__(
        self,
        dsn: str,
        health: Health | None = None,
        *,
        me: Holder | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.dsn = dsn
        self.health = health or Health()
        self.me = me or this_process()
        self.clock = clock or SystemClock()
        self.standbys = 0  # waiting at the leader's last answered ask
        self.leader: Holder | None = None  # who leads, as this standby last saw
        self._conn: AsyncConnection[Any] | None = None
        self._abandoned: set[asyncio.Task[Any]] = set()
        self._troubled = False
        self._step_back_until = 0.0  # monotonic
        self._idle_timeout = True  # the server has idle_session_timeout (PostgreSQL 14+)

    # --- standing by -------------------------------------------------------------------

    async def wait_to_lead(self, stop: asyncio.Event) -> bool:
        """Stand by: ask for the lock every `CHECK_S` until this process holds it (True), or
        `stop` is set (False). A lock connection that fails is opened again."""
        self._role("standby", self.leader.name if self.leader else None)
        attempts = Attempts(RECONNECT)
        while not stop.is_set():
            try:
                if self._conn is None:
                    await self._open("standby")
                stepping_back = self.clock.monotonic() < self._step_back_until
                got = not stepping_back and (await self._ask(TRY_LOCK, (PLAYOUT_LOCK,)))[0]
                if got:
                    await self._ask(RENAME, (self.me.as_("leader").connection_name,))
                    self._role("leader", self.me.name)
                    self.leader = None
                    self._clear()
                    log.warning(
                        "leading: this playout holds the playout lock",
                        extra={"lock": PLAYOUT_LOCK, "pid": self.me.pid, "host": self.me.host},
                    )
                    return True
                self._seen(await self._holder())
                attempts.succeeded()
                self._clear()
            except Lost as exc:
                self._trouble(f"standing by, but the database does not answer: {exc}")
                await pause(self.clock, stop, attempts.failed())
                continue
            await pause(self.clock, stop, CHECK_S)
        return False

    async def _holder(self) -> Holder | None:
        rows = await self._ask_all(HOLDER, lock_halves(PLAYOUT_LOCK))
        if not rows:
            return None  # freed meanwhile: the next ask may get it
        pid, name = rows[0]
        return Holder.parse(name or "") or Holder("leader", int(pid), "?")

    def _seen(self, holder: Holder | None) -> None:
        if holder is None or holder == self.leader:
            return
        self.leader = holder
        self._role("standby", holder.name)
        log.warning(
            "standing by: another playout leads (pid %s, host %s)",
            holder.pid,
            holder.host,
            extra={"leader_pid": holder.pid, "leader_host": holder.host},
        )

    # --- leading ---------------------------------------------------------------------------

    async def keep(self, stop: asyncio.Event) -> str | None:
        """While leading: ask every `CHECK_S` whether the session lives (and how many standbys
        wait). Returns None when `stop` is set, or why the lead is lost: the channels must
        stop at once. See the module's text for when a leader alone stays on air."""
        last_ok = self.clock.monotonic()  # when the last answered ask was sent
        while not stop.is_set():
            sent = self.clock.monotonic()
            try:
                left = max(0.05, last_ok + LEASE_S - sent)
                n = (await self._ask(STANDBYS, (f"{NAME_PREFIX} standby %",), timeout=left))[0]
            except Lost as exc:
                lapse = f"no answer for {LEASE_S:g} s" if isinstance(exc, NoAnswer) else str(exc)
                why = f"the playout lock's session cannot be proved alive ({lapse})"
                if self.standbys:
                    return await self._fenced(why)
                lost = await self._alone(stop, why)
                if lost is not None:
                    return await self._fenced(lost)
                last_ok = self.clock.monotonic()
                continue
            last_ok = sent
            if int(n) != self.standbys:
                log.info("standbys waiting", extra={"standbys": int(n)})
            self.standbys = int(n)
            await pause(self.clock, stop, CHECK_S)
        return None

    async def _fenced(self, why: str) -> str:
        log.critical(
            "lost the lead: stopping the channels at once, so that only one playout airs",
            extra={"why": why, "pid": self.me.pid, "host": self.me.host},
        )
        await self._drop()
        self.standbys = 0
        self._role("standby", None)
        # The standby that was waiting takes over; this one asks again only if it does not.
        self._step_back_until = self.clock.monotonic() + STEP_BACK_S
        return why

    async def _alone(self, stop: asyncio.Event, why: str) -> str | None:
        """The lock connection is lost and no standby was waiting: nobody can take over, so
        the channels stay on air while the lock is asked for again. None once it is held
        again (or `stop`); why the lead is lost if another playout holds it."""
        log.error(
            "the playout lock's connection is lost and no standby is waiting: staying on air "
            "(stopping would only silence the station); asking for the lock again",
            extra={"why": why},
        )
        await self._drop()
        attempts = Attempts(RECONNECT)
        while not stop.is_set():
            self._trouble(f"leading alone without the lock's connection: {why}")
            try:
                await self._open("leader")
                got = (await self._ask(TRY_LOCK, (PLAYOUT_LOCK,)))[0]
                holder = None if got else await self._holder()
            except Lost as exc:
                why = str(exc)
                await self._drop()
                await pause(self.clock, stop, attempts.failed())
                continue
            if got:
                self._clear()
                log.warning("the playout lock is held again", extra={"lock": PLAYOUT_LOCK})
                return None
            who = holder.name if holder else "another session"
            return f"another playout ({who}) took the lead while this one was cut off"
        return None

    # --- the connection ------------------------------------------------------------------

    async def _open(self, role: str) -> None:
        import psycopg

        await self._drop()
        name = self.me.as_(role).connection_name
        options = lock_connection_options(name, idle_timeout=self._idle_timeout)
        try:
            self._conn = await asyncio.wait_for(
                psycopg.AsyncConnection.connect(self.dsn, **options), CONNECT_S + 1
            )
        except (psycopg.Error, OSError, TimeoutError) as exc:
            if self._idle_timeout and "idle_session_timeout" in str(exc):
                # Better a standby that takes over later than none at all.
                log.error(
                    "PostgreSQL older than 14: without idle_session_timeout a frozen leader "
                    "keeps the playout lock as long as its machine answers TCP"
                )
                self._idle_timeout = False
                await self._open(role)
                return
            raise Lost(f"cannot connect: {exc}") from exc

    async def _ask(
        self, sql: str, params: tuple[Any, ...] = (), *, timeout: float = LEASE_S
    ) -> tuple[Any, ...]:
        rows = await self._ask_all(sql, params, timeout=timeout)
        if not rows:
            raise Lost(f"no row from {sql!r}")
        return rows[0]

    async def _ask_all(
        self, sql: str, params: tuple[Any, ...] = (), *, timeout: float = LEASE_S
    ) -> list[tuple[Any, ...]]:
        """Rows from the lock connection. A query not answered in `timeout` is not cancelled
        (a cancel request over a dead network could hang as well): the connection is given
        up, and closed when the query ends by itself (the keepalives end it)."""
        import psycopg

        conn = self._conn
        if conn is None:
            raise Lost("not connected")

        async def query() -> list[tuple[Any, ...]]:
            cur = await conn.execute(sql, params)
            return await cur.fetchall()

        task = asyncio.ensure_future(query())
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            self._conn = None
            self._abandon(conn, task)
            raise NoAnswer(f"no answer in {timeout:.1f} s")
        try:
            return task.result()
        except (psycopg.Error, OSError) as exc:
            await self._drop()
            raise Lost(f"{type(exc).__name__}: {exc}".strip()) from exc

    def _abandon(self, conn: AsyncConnection[Any], task: asyncio.Task[Any]) -> None:
        async def close_when_done() -> None:
            with contextlib.suppress(BaseException):
                await task
            with contextlib.suppress(Exception):
                await conn.close()

        closing = asyncio.ensure_future(close_when_done())
        self._abandoned.add(closing)
        closing.add_done_callback(self._abandoned.discard)

    async def _drop(self) -> None:
        """The connection closed (its socket freed; on the server, the session ends)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def close(self) -> None:
        """Let the lock go (the session ends) and what was given up with it."""
        await self._drop()
        for task in list(self._abandoned):
            task.cancel()
        await asyncio.gather(*self._abandoned, return_exceptions=True)

    # --- health ----------------------------------------------------------------------------

    def _role(self, role: str, leader: str | None) -> None:
        self.health.role = role
        self.health.leader = leader

    def _trouble(self, reason: str) -> None:
        if not self._troubled:
            log.error("playout lock: %s", reason)
        self._troubled = True
        self.health.degraded(PART, reason)

    def _clear(self) -> None:
        if self._troubled:
            self._troubled = False
            self.health.ok(PART)
