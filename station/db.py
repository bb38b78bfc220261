"""The database: declarative base, engine (SQLite in WAL mode, or PostgreSQL) and sessions."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import DateTime, Engine, MetaData, Result, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite too (which keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def normalise_url(url: str) -> str:
    """postgres:// and postgresql:// use psycopg 3, the driver we ship."""
    u = make_url(url)
    if u.drivername in ("postgres", "postgresql"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


# How a connection of our own (outside the pool) is opened on PostgreSQL: a server gone quiet
# (a network cut, not a refusal) is given up in seconds, not minutes — TCP keepalives for an
# idle connection, a user timeout for one waiting on an answer.
PG_ALIVE: dict[str, int] = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}


def psycopg_conninfo(url: str, **params: str | int) -> str:
    """A database URL as psycopg itself takes it, for a connection of our own: with PG_ALIVE
    and `params` (an application_name, say)."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(libpq_url(url), **{**PG_ALIVE, **params})


def libpq_url(url: str) -> str:
    """The URL without SQLAlchemy's driver name, as libpq (psycopg) takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_db_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # A database that is away is noticed in seconds: callers retry.
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args={"connect_timeout": 5}
    )


class Database:
    """Engine plus a session factory; one per process, built from Settings at start-up."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = create_db_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        path = make_url(self.url).database if self.url.startswith("sqlite") else None
        self._file = path if path and path != ":memory:" and "mode=memory" not in self.url else None
        self._watch: Any = None  # the connection `current_row` reads on
        self._watch_lock = threading.Lock()
        self._rows: dict[str, tuple[Any, tuple[Any, ...]]] = {}

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def dsn(self) -> str:
        """The URL as libpq takes it: for playout's lock connection (station/leadership.py)."""
        return libpq_url(self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed if the block ends normally, rolled back if it raises."""
        s = self._sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    @property
    def watches_commits(self) -> bool:
        """Whether `current_row` is answered without the pool or the network (a SQLite file):
        cheap enough to ask on an event loop."""
        return self._file is not None

    def current_row(self, sql: str) -> tuple[Any, ...]:
        """The one row a read-only `sql` answers, never older than the last commit before the
        call, read again only when something was committed since. It is read on a connection
        of its own, outside the pool (so a busy pool never makes it wait):
        - on a SQLite file, `PRAGMA data_version` says whether another connection, in this
          process or another, has committed since: a few microseconds, cheap enough to ask
          on every request, on the event loop;
        - on PostgreSQL, `pg_current_snapshot()` names every transaction finished or under
          way (of the whole server): while it reads the same, what any query sees is the
          same. One small query instead of the row's own (and no pool check-out, ping or
          rollback around it).
        Elsewhere, through the pool."""
        if self._file is not None:
            return self._watched(sql, "PRAGMA data_version", self._open_sqlite, sqlite3.Error)
        if self.engine.dialect.name == "postgresql":
            import psycopg

            return self._watched(
                sql, "SELECT pg_current_snapshot()::text", self._open_pg, psycopg.Error
            )
        with self.engine.connect() as conn:
            return tuple(conn.exec_driver_sql(sql).one())

    def _open_sqlite(self) -> Any:
        return sqlite3.connect(self._file or "", timeout=30, check_same_thread=False)

    def _open_pg(self) -> Any:
        import psycopg

        # Requests wait on this connection's lock: a server gone quiet must not hold them.
        return psycopg.connect(psycopg_conninfo(self.url), autocommit=True)

    def _watched(
        self, sql: str, mark_sql: str, connect: Callable[[], Any], errors: type[Exception]
    ) -> tuple[Any, ...]:
        """`sql`'s row, kept under the mark (`mark_sql`'s answer) read just before it: a
        commit in between leaves a newer row under an older mark, read again next time."""
        with self._watch_lock:
            try:
                if self._watch is None:
                    self._watch = connect()
                seen = self._watch.execute(mark_sql).fetchone()[0]
                kept = self._rows.get(sql)
                if kept is not None and kept[0] == seen:
                    return kept[1]
                row = tuple(self._watch.execute(sql).fetchone() or ())
            except errors as exc:  # as the pool's errors are raised: SQLAlchemy's
                self._close_watch()  # opened again on the next call
                raise DBAPIError.instance(sql, None, exc, errors) from exc
            self._rows[sql] = (seen, row)
            return row

    def _close_watch(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        self._rows.clear()

    def dispose(self) -> None:
        with self._watch_lock:
            self._close_watch()
        self.engine.dispose()


def affected(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed (0 where the driver does not say)."""
    return int(getattr(result, "rowcount", 0) or 0)


@contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server of `server_url` (whose own database is
    only used to make and drop it), dropped with its connections at the end: what the test
    suite and the benches write into, never a database they did not make."""
    admin_url = make_url(normalise_url(server_url))
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list read in key order, and the sort key of its last item when more
    follow (None at the end). The API turns the key into an opaque cursor."""

    items: list[T]
    next_key: tuple[int, ...] | None
