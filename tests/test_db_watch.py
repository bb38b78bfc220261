"""`Database.current_row`: a row kept until something is committed, and never older than the
last commit before the call, whoever committed it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from diaspor import migrate
from schedules.service import Schedules
from station.clock import SystemClock
from station.db import Database
from tests.conftest import fresh_pg_database

ROW = "SELECT count(*), max(id) FROM playlists"
VERSIONS = "SELECT sum(version) FROM playlists"


def add(db: Database, name: str) -> None:
    Schedules(db, SystemClock()).create("playlist", {"name": name, "media_ids": []}, "test")


def test_every_commit_elsewhere_is_in_the_next_row(db_url: str) -> None:
    reader, writer = Database(db_url), Database(db_url)  # as two processes
    try:
        assert reader.current_row(ROW)[0] == 0
        for n in range(1, 31):  # one commit after another, quicker than any clock tick
            add(writer, f"p{n}")
            assert reader.current_row(ROW)[0] == n
            assert reader.current_row(ROW)[0] == n  # kept: nothing committed since

        # A transaction under way when the row was read, committed after.
        with writer.engine.connect() as c:
            c.execute(text("UPDATE playlists SET version = version + 1"))
            assert reader.current_row(ROW)[0] == 30  # not committed: not seen
            assert reader.current_row(VERSIONS)[0] == 30
            c.commit()
        assert reader.current_row(VERSIONS)[0] == 60
    finally:
        reader.dispose()
        writer.dispose()


@pytest.fixture
def own_pg_database() -> Iterator[str]:
    with fresh_pg_database("diaspor_watch") as url:
        migrate.upgrade(url)
        yield url


@pytest.mark.postgres
def test_a_dropped_watch_connection_is_an_error_once_then_opened_again(
    own_pg_database: str,
) -> None:
    """The server ends the connection the rows are read on (a restart, an idle timeout)."""
    reader, admin = Database(own_pg_database), Database(own_pg_database)
    try:
        assert reader.current_row(ROW)[0] == 0
        pid = reader.current_row("SELECT pg_backend_pid()")[0]
        with admin.engine.begin() as c:
            c.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        add(admin, "after")
        with pytest.raises(DBAPIError):
            reader.current_row(ROW)
        assert reader.current_row(ROW)[0] == 1
    finally:
        reader.dispose()
        admin.dispose()
