"""The job queue on SQLite and PostgreSQL: a job runs once, failures wait longer each time, a
dead worker's job is taken over, and the worker keeps going and stops when asked."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobs.queue import (
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    Job,
    JobQueue,
    JobRow,
    PermanentJobError,
    ProgressReporter,
    Worker,
)
from station.clock import SimulatedClock
from station.db import Database
from tests.support import run

START = datetime(2025, 5, 28, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def queue(db: Database, clock: SimulatedClock) -> JobQueue:
    return JobQueue(db, clock, max_attempts=4, retry_base_s=5.0)


def enqueue(queue: JobQueue, kind: str, payload: dict[str, Any] | None = None) -> int:
    with queue.db.session() as s:
        return queue.enqueue(s, kind, payload or {}).id


def current(queue: JobQueue, job_id: int) -> Job:
    job = queue.get(job_id)
    assert job is not None
    return job


def run_after(db: Database, job_id: int) -> datetime:
    with db.session() as s:
        row = s.get(JobRow, job_id)
        assert row is not None
        return row.run_after


async def succeed(payload: dict[str, Any], progress: ProgressReporter) -> None:
    return None


# --- claiming -----------------------------------------------------------------------------


def test_a_job_enqueued_with_a_write_is_claimed_once(queue: JobQueue) -> None:
    job_id = enqueue(queue, "analyse", {"media_id": 7, "title": "Vətən uzaqda deyil"})

    waiting = current(queue, job_id)
    assert waiting.status == QUEUED and waiting.attempts == 0

    job = queue.claim()
    assert job is not None
    assert job.id == job_id
    assert job.status == RUNNING and job.attempts == 1
    assert job.kind == "analyse"
    assert job.payload == {"media_id": 7, "title": "Vətən uzaqda deyil"}

    assert queue.claim() is None
    assert current(queue, job_id).status == RUNNING


def test_a_job_enqueued_in_a_write_that_rolls_back_never_exists(
    queue: JobQueue, db: Database
) -> None:
    with pytest.raises(RuntimeError, match="upload aborted"), db.session() as s:
        queue.enqueue(s, "analyse", {"media_id": 1})
        raise RuntimeError("upload aborted")

    assert queue.claim() is None
    assert queue.list() == []


def test_a_second_worker_on_the_same_database_cannot_take_a_claimed_job(
    queue: JobQueue, db_url: str, clock: SimulatedClock
) -> None:
    job_id = enqueue(queue, "analyse")
    other_db = Database(db_url)  # another process: its own engine and connections
    try:
        other = JobQueue(other_db, clock)
        first = queue.claim()
        assert first is not None and first.id == job_id
        assert other.claim() is None
        assert queue.claim() is None

        # A second job goes to whichever worker asks first, and only to it.
        second_id = enqueue(other, "package")
        taken = other.claim()
        assert taken is not None and taken.id == second_id
        assert queue.claim() is None
    finally:
        other_db.dispose()


def test_workers_racing_for_the_same_jobs_never_run_one_twice(
    queue: JobQueue, db_url: str, clock: SimulatedClock
) -> None:
    ids = {enqueue(queue, "analyse", {"n": n}) for n in range(24)}
    databases = [Database(db_url) for _ in range(4)]
    queues = [JobQueue(d, clock) for d in databases]
    claimed: list[list[int]] = [[] for _ in queues]
    errors: list[BaseException] = []
    start = threading.Barrier(len(queues))

    def work(i: int) -> None:
        try:
            start.wait()
            while (job := queues[i].claim()) is not None:
                claimed[i].append(job.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(queues))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for d in databases:
            d.dispose()

    assert errors == []
    everything = [job_id for mine in claimed for job_id in mine]
    assert sorted(everything) == sorted(ids)  # each job exactly once
    assert all(j.status == RUNNING and j.attempts == 1 for j in queue.list(limit=100))


# --- failures and retries -----------------------------------------------------------------


def test_a_failed_job_waits_longer_each_time_before_it_is_retried(
    queue: JobQueue, db: Database, clock: SimulatedClock
) -> None:
    calls: list[datetime] = []

    async def flaky(payload: dict[str, Any], progress: ProgressReporter) -> None:
        calls.append(clock.now())
        raise OSError("storage unreachable")

    worker = Worker(queue, {"analyse": flaky})
    job_id = enqueue(queue, "analyse")

    for attempt, delay in enumerate([5, 10, 20], start=1):
        assert run(worker.run_once()) is not None
        job = current(queue, job_id)
        assert job.status == QUEUED
        assert job.attempts == attempt
        assert job.error == "OSError: storage unreachable"
        assert job.message == f"retrying in {delay} s"
        assert run_after(db, job_id) == clock.now() + timedelta(seconds=delay)

        # Not a moment early...
        clock.advance(delay - 1)
        assert run(worker.run_once()) is None
        assert queue.claim() is None
        clock.advance(0.999)
        assert run(worker.run_once()) is None
        # ...but once its time has come.
        clock.advance(0.001)

    assert run(worker.run_once()) is not None
    job = current(queue, job_id)
    assert job.status == FAILED
    assert job.attempts == 4
    assert job.error == "OSError: storage unreachable"
    assert job.finished_at == clock.now()
    assert [c - START for c in calls] == [
        timedelta(0),
        timedelta(seconds=5),
        timedelta(seconds=15),
        timedelta(seconds=35),
    ]

    clock.advance(24 * 3600)
    assert run(worker.run_once()) is None  # a failed job stays failed
    assert len(calls) == 4


def test_a_permanent_error_fails_the_job_at_once(queue: JobQueue, clock: SimulatedClock) -> None:
    calls = 0

    async def corrupt(payload: dict[str, Any], progress: ProgressReporter) -> None:
        nonlocal calls
        calls += 1
        raise PermanentJobError("the file is corrupt: moov atom not found")

    worker = Worker(queue, {"analyse": corrupt})
    job_id = enqueue(queue, "analyse")

    assert run(worker.drain()) == 1
    job = current(queue, job_id)
    assert job.status == FAILED
    assert job.attempts == 1
    assert job.error == "the file is corrupt: moov atom not found"
    assert job.finished_at == START

    clock.advance(3600)
    assert run(worker.drain()) == 0
    assert calls == 1


def test_a_job_that_fails_once_and_then_succeeds_ends_done_without_the_old_error(
    queue: JobQueue, clock: SimulatedClock
) -> None:
    attempts = 0

    async def second_time_lucky(payload: dict[str, Any], progress: ProgressReporter) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise TimeoutError("ffmpeg took too long")

    worker = Worker(queue, {"analyse": second_time_lucky})
    job_id = enqueue(queue, "analyse")

    run(worker.run_once())
    assert current(queue, job_id).error == "TimeoutError: ffmpeg took too long"
    clock.advance(5)
    run(worker.run_once())

    job = current(queue, job_id)
    assert job.status == DONE and job.attempts == 2
    assert job.error is None


# --- progress -----------------------------------------------------------------------------


def test_progress_reported_by_a_handler_is_visible_while_it_runs(
    queue: JobQueue, clock: SimulatedClock
) -> None:
    seen: list[Job] = []

    async def analyse(payload: dict[str, Any], progress: ProgressReporter) -> None:
        await progress(0.25, "measuring loudness")
        seen.extend(await asyncio.to_thread(queue.list, RUNNING))
        clock.advance(1)
        await progress(0.75, "finding cue points")
        seen.extend(await asyncio.to_thread(queue.list, RUNNING))

    worker = Worker(queue, {"analyse": analyse})
    job_id = enqueue(queue, "analyse")

    assert run(worker.drain()) == 1

    assert [(j.id, j.progress, j.message) for j in seen] == [
        (job_id, 0.25, "measuring loudness"),
        (job_id, 0.75, "finding cue points"),
    ]
    job = current(queue, job_id)
    assert job.status == DONE
    assert job.progress == 1.0
    assert job.message == "done"
    assert job.error is None
    assert job.finished_at == clock.now()


def test_progress_is_written_at_most_twice_a_second_but_the_end_always(
    queue: JobQueue, clock: SimulatedClock
) -> None:
    job_id = enqueue(queue, "analyse")
    claimed = queue.claim()
    assert claimed is not None
    report = ProgressReporter(queue, job_id)

    async def steps() -> list[float]:
        seen = []
        await report(0.1, "a")
        seen.append(current(queue, job_id).progress)
        clock.advance(0.2)
        await report(0.2, "b")  # too soon: dropped
        seen.append(current(queue, job_id).progress)
        clock.advance(0.4)
        await report(0.3, "c")
        seen.append(current(queue, job_id).progress)
        await report(1.0, "finished")  # the end is never dropped
        seen.append(current(queue, job_id).progress)
        return seen

    assert run(steps()) == [0.1, 0.1, 0.3, 1.0]


# --- a worker that died -------------------------------------------------------------------


def test_a_job_whose_worker_stopped_answering_is_taken_over(
    queue: JobQueue, clock: SimulatedClock
) -> None:
    job_id = enqueue(queue, "analyse")
    first = queue.claim()  # this worker then dies without a word
    assert first is not None and first.attempts == 1

    clock.advance(9 * 60 + 59)
    assert queue.claim() is None  # silent, but not for long enough yet
    assert current(queue, job_id).status == RUNNING

    clock.advance(2)
    again = queue.claim()
    assert again is not None
    assert again.id == job_id
    assert again.status == RUNNING
    assert again.attempts == 2
    assert queue.claim() is None


def test_a_job_that_kills_its_worker_every_time_fails_after_its_last_attempt(
    queue: JobQueue, clock: SimulatedClock
) -> None:
    job_id = enqueue(queue, "analyse", {"media_id": 3})
    for attempt in range(1, 5):
        job = queue.claim()  # ...and the worker dies (out of memory, say) without a word
        assert job is not None and job.id == job_id and job.attempts == attempt
        clock.advance(10 * 60 + 1)

    assert queue.claim() is None  # not a fifth time
    job = current(queue, job_id)
    assert job.status == FAILED and job.attempts == 4
    assert job.error is not None and "stopped answering" in job.error
    assert "4 attempts" in job.error
    assert job.finished_at == clock.now()

    clock.advance(24 * 3600)
    assert queue.claim() is None


def test_a_job_whose_worker_keeps_reporting_progress_is_left_alone(
    queue: JobQueue, clock: SimulatedClock
) -> None:
    job_id = enqueue(queue, "package")
    assert queue.claim() is not None

    for _ in range(3):
        clock.advance(8 * 60)
        queue.set_progress(job_id, 0.5, "still packaging")
        assert queue.claim() is None

    clock.advance(10 * 60 + 1)
    retaken = queue.claim()
    assert retaken is not None and retaken.id == job_id and retaken.attempts == 2


# --- the worker ---------------------------------------------------------------------------


def test_a_job_nobody_can_run_fails_clearly_and_the_next_job_still_runs(
    queue: JobQueue,
) -> None:
    ran: list[dict[str, Any]] = []

    async def analyse(payload: dict[str, Any], progress: ProgressReporter) -> None:
        ran.append(payload)

    unknown = enqueue(queue, "transcode-hologram", {"media_id": 1})
    known = enqueue(queue, "analyse", {"media_id": 2})
    worker = Worker(queue, {"analyse": analyse})

    assert run(worker.drain()) == 2

    lost = current(queue, unknown)
    assert lost.status == FAILED
    assert lost.attempts == 1
    assert lost.error == "no handler for job kind 'transcode-hologram'"
    assert current(queue, known).status == DONE
    assert ran == [{"media_id": 2}]


def test_the_worker_runs_jobs_as_they_come_and_stops_promptly_when_asked(
    queue: JobQueue,
) -> None:
    done = enqueue(queue, "analyse")

    async def scenario() -> float:
        worker = Worker(queue, {"analyse": succeed}, poll_s=30)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))

        async def until_done(job_id: int) -> None:
            while current(queue, job_id).status != DONE:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(until_done(done), timeout=10)
        await asyncio.sleep(0.2)  # nothing left: the worker goes idle
        # A job enqueued while the worker idles wakes it long before its next poll.
        later = await asyncio.to_thread(enqueue, queue, "analyse")
        queue.notify()
        await asyncio.wait_for(until_done(later), timeout=10)

        await asyncio.sleep(0.1)  # idle again, waiting up to 30 s for work
        assert not task.done()
        asked = time.monotonic()
        stop.set()
        await asyncio.wait_for(task, timeout=5)
        return time.monotonic() - asked

    assert run(scenario()) < 2


def test_a_worker_asked_to_stop_before_it_starts_runs_nothing(queue: JobQueue) -> None:
    job_id = enqueue(queue, "analyse")

    async def scenario() -> None:
        worker = Worker(queue, {"analyse": succeed}, poll_s=30)
        stop = asyncio.Event()
        stop.set()
        await asyncio.wait_for(worker.run(stop), timeout=5)

    run(scenario())
    assert current(queue, job_id).status == QUEUED
