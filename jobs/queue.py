"""A small job queue in the database: analysis and packaging run here, never in a request.

Any process with the database can enqueue; `diaspor worker` (or the embedded worker inside
`diaspor demo`) claims jobs one at a time, reports progress, and retries failures with
exponential back-off. A claim is an UPDATE guarded by the job's status, so two workers never
run the same job, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, Text, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from station.backoff import Backoff
from station.clock import Clock
from station.db import Base, Database, UtcDateTime
from station.metrics import Metrics

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATUSES = (QUEUED, RUNNING, DONE, FAILED)
STALE_AFTER = timedelta(minutes=10)  # a running job without a heartbeat this long is retried


class JobRow(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), index=True, default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=4)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    run_after: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    payload: dict[str, Any]
    status: str
    attempts: int
    max_attempts: int
    progress: float
    message: str
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: JobRow) -> Job:
        return cls(
            id=row.id,
            kind=row.kind,
            payload=dict(row.payload),
            status=row.status,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            progress=row.progress,
            message=row.message,
            error=row.error,
            created_at=row.created_at,
            finished_at=row.finished_at,
        )


class PermanentJobError(Exception):
    """Raised by a handler when retrying cannot help (a corrupt file stays corrupt)."""


class ProgressReporter:
    """Handed to a handler; writes progress to the job row at most twice a second."""

    def __init__(self, queue: JobQueue, job_id: int) -> None:
        self._queue = queue
        self._job_id = job_id
        self._last = -1.0

    async def __call__(self, fraction: float, message: str = "") -> None:
        now = self._queue.clock.monotonic()
        if fraction < 1.0 and now - self._last < 0.5:
            return
        self._last = now
        await asyncio.to_thread(self._queue.set_progress, self._job_id, fraction, message)


Handler = Callable[[dict[str, Any], ProgressReporter], Awaitable[None]]


class JobQueue:
    def __init__(
        self, db: Database, clock: Clock, *, max_attempts: int = 4, retry_base_s: float = 5.0
    ) -> None:
        self.db = db
        self.clock = clock
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        # base, 2·base, 4·base … (the station's one back-off policy)
        self.retry = Backoff(
            base_s=2 * retry_base_s, first_s=retry_base_s, max_s=retry_base_s * 1024
        )
        self.worker_name = f"{socket.gethostname()}:{os.getpid()}"
        self._listeners: list[Callable[[], None]] = []

    def on_enqueue(self, callback: Callable[[], None]) -> None:
        """In-process wake-up (embedded mode); other processes find jobs by polling."""
        self._listeners.append(callback)

    def enqueue(
        self,
        session: Any,
        kind: str,
        payload: dict[str, Any],
        *,
        run_after: datetime | None = None,
    ) -> JobRow:
        """Add a job inside the caller's transaction, so it exists only if their write does;
        it runs from `run_after` on (at once by default)."""
        now = self.clock.now()
        row = JobRow(
            kind=kind,
            payload=payload,
            status=QUEUED,
            attempts=0,
            max_attempts=self.max_attempts,
            progress=0.0,
            message="waiting",
            run_after=run_after or now,
            created_at=now,
        )
        session.add(row)
        session.flush()
        return row

    def notify(self) -> None:
        for cb in self._listeners:
            cb()

    def get(self, job_id: int) -> Job | None:
        with self.db.session() as s:
            row = s.get(JobRow, job_id)
            return Job.of(row) if row else None

    def list(self, status: str | None = None, limit: int = 100) -> list[Job]:
        with self.db.session() as s:
            q = select(JobRow).order_by(JobRow.id.desc()).limit(limit)
            if status:
                q = q.where(JobRow.status == status)
            return [Job.of(r) for r in s.scalars(q)]

    def counts(self) -> dict[str, int]:
        """How many jobs there are in each status (every status, 0 included)."""
        with self.db.session() as s:
            q = select(JobRow.status, func.count()).group_by(JobRow.status)
            found = {status: n for status, n in s.execute(q).all()}
        return {status: int(found.get(status, 0)) for status in STATUSES}

    def _take_back_stale(self, s: Any, now: datetime) -> None:
        """A job left running by a worker that stopped answering goes back to the queue, unless
        that was its last attempt: a job that kills its worker every time is not retried
        forever. (Queued jobs with no attempt left, which older versions could leave, fail.)"""
        stale = (JobRow.status == RUNNING, JobRow.heartbeat_at < now - STALE_AFTER)
        used_up = JobRow.attempts >= JobRow.max_attempts
        for job_id, attempts in s.execute(
            select(JobRow.id, JobRow.attempts).where(*stale, used_up)
        ).all():
            res = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, *stale)
                .values(
                    status=FAILED,
                    finished_at=now,
                    message="failed",
                    error=f"its worker stopped answering during the last of its {attempts} "
                    "attempts: given up",
                )
            )
            if res.rowcount == 1:
                log.error("job given up: its worker died at each attempt", extra={"job": job_id})
        s.execute(
            update(JobRow)
            .where(*stale)
            .values(status=QUEUED, message="requeued: its worker stopped answering")
        )
        s.execute(
            update(JobRow)
            .where(JobRow.status == QUEUED, used_up)
            .values(status=FAILED, finished_at=now, message="failed")
        )

    def claim(self) -> Job | None:
        now = self.clock.now()
        with self.db.session() as s:
            self._take_back_stale(s, now)
            candidates = s.scalars(
                select(JobRow.id)
                .where(JobRow.status == QUEUED, JobRow.run_after <= now)
                .order_by(JobRow.run_after, JobRow.id)
                .limit(5)
            ).all()
            for job_id in candidates:
                res = s.execute(
                    update(JobRow)
                    .where(
                        JobRow.id == job_id,
                        JobRow.status == QUEUED,
                        JobRow.attempts < JobRow.max_attempts,
                    )
                    .values(
                        status=RUNNING,
                        attempts=JobRow.attempts + 1,
                        started_at=now,
                        heartbeat_at=now,
                        worker=self.worker_name,
                        message="started",
                    )
                )
                if res.rowcount == 1:  # type: ignore[attr-defined]
                    s.flush()
                    row = s.get(JobRow, job_id)
                    assert row is not None
                    s.refresh(row)
                    return Job.of(row)
        return None

    def set_progress(self, job_id: int, fraction: float, message: str) -> None:
        with self.db.session() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id)
                .values(
                    progress=max(0.0, min(fraction, 1.0)),
                    message=message,
                    heartbeat_at=self.clock.now(),
                )
            )

    def finish(self, job_id: int) -> None:
        with self.db.session() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id)
                .values(
                    status=DONE,
                    progress=1.0,
                    message="done",
                    error=None,
                    finished_at=self.clock.now(),
                )
            )

    def fail(self, job: Job, error: str, *, permanent: bool) -> str:
        """Record a failure; retry later unless it is permanent or attempts are used up."""
        now = self.clock.now()
        give_up = permanent or job.attempts >= job.max_attempts
        with self.db.session() as s:
            values: dict[str, Any] = {"error": error}
            if give_up:
                values |= {"status": FAILED, "finished_at": now, "message": "failed"}
            else:
                delay = self.retry.delay(job.attempts)
                values |= {
                    "status": QUEUED,
                    "run_after": now + timedelta(seconds=delay),
                    "message": f"retrying in {delay:.0f} s",
                }
            s.execute(update(JobRow).where(JobRow.id == job.id).values(**values))
        return FAILED if give_up else QUEUED


class Worker:
    """Runs claimed jobs one at a time until `stop` is set."""

    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, Handler],
        poll_s: float = 1.0,
        metrics: Metrics | None = None,
    ):
        self.queue = queue
        self.handlers = dict(handlers)
        self.poll_s = poll_s
        self.metrics = metrics  # failed attempts are counted there, by kind
        self._wake = asyncio.Event()
        queue.on_enqueue(self.wake)

    def wake(self) -> None:
        loop_event = self._wake
        try:
            asyncio.get_running_loop()
            loop_event.set()
        except RuntimeError:
            pass  # enqueued from a thread: the next poll finds it

    async def run_once(self) -> Job | None:
        """Run one due job, if any; returns it as it was claimed."""
        job = await asyncio.to_thread(self.queue.claim)
        if job is None:
            return None
        handler = self.handlers.get(job.kind)
        extra = {"job": job.id, "kind": job.kind, "attempt": job.attempts}
        if handler is None:
            await asyncio.to_thread(
                self.queue.fail, job, f"no handler for job kind {job.kind!r}", permanent=True
            )
            self._failed(job)
            log.error("job has a kind no handler knows", extra=extra)
            return job
        log.info("job started", extra=extra)
        try:
            await handler(job.payload, ProgressReporter(self.queue, job.id))
        except PermanentJobError as exc:
            await asyncio.to_thread(self.queue.fail, job, str(exc), permanent=True)
            self._failed(job)
            log.warning("job failed for good", extra={**extra, "error": str(exc)})
        except asyncio.CancelledError:
            await asyncio.to_thread(
                self.queue.fail, job, "interrupted by shutdown", permanent=False
            )
            raise
        except Exception as exc:  # a handler's bug or a passing fault: retry with back-off
            outcome = await asyncio.to_thread(
                self.queue.fail, job, f"{type(exc).__name__}: {exc}", permanent=False
            )
            self._failed(job)
            log.exception("job failed", extra={**extra, "outcome": outcome})
        else:
            await asyncio.to_thread(self.queue.finish, job.id)
            log.info("job done", extra=extra)
        return job

    def _failed(self, job: Job) -> None:
        if self.metrics is not None:
            self.metrics.job_failures.labels(job.kind).inc()

    async def drain(self) -> int:
        """Run every job that is due now; for the CLI and tests."""
        n = 0
        while await self.run_once() is not None:
            n += 1
        return n

    async def run(self, stop: asyncio.Event) -> None:
        log.info("worker started", extra={"worker": self.queue.worker_name})
        try:
            while not stop.is_set():
                # Clear before claiming: a job queued while we look is not missed.
                self._wake.clear()
                job = await self.run_once()
                if job is not None:
                    continue
                stop_wait = asyncio.ensure_future(stop.wait())
                wake_wait = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait(
                        {stop_wait, wake_wait},
                        timeout=self.poll_s,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    stop_wait.cancel()
                    wake_wait.cancel()
        finally:
            log.info("worker stopped", extra={"worker": self.queue.worker_name})
