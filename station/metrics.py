"""The process's metrics, for Prometheus: one registry per process (never the library's global
one, so that several stations in one process, as in the tests, keep their numbers apart), what
each metric counts, and the text a scraper reads.

Two kinds of value. What an owner already keeps (listeners on a mount, an encoder's restarts,
the TV playlists' live edge, the parts' health, the job queue) is read from that owner when
scraped (`Readings`, the health and job collectors), so there is one count and no copy to
drift. What happens (a boundary on air, dead air, a failed job, a request answered) is counted
as it happens, in a prometheus_client Counter or Histogram. Every metric's HELP says exactly
what it counts; docs/architecture.md ("Observability") says the same for operators.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from station.supervisor import Health

log = logging.getLogger(__name__)

Reader = Callable[[], float | None]

# Seconds early (negative) or late: the station's engine is exact, Liquidsoap's queue is tens
# of ms out, a TV item joined after a restart is late by up to its length.
BOUNDARY_BUCKETS = (
    -10.0, -2.0, -0.5, -0.1, -0.02, -0.005,
    0.005, 0.02, 0.1, 0.5, 2.0, 10.0, 60.0,
)  # fmt: skip
# An API answer: kept answers are sent in well under a millisecond, the guide is made in tens.
HTTP_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
)  # fmt: skip


class Readings:
    """A metric whose values are read from their owners at each scrape: one reader per set
    of label values. A reader that answers None (nothing to tell yet) is left out of that
    scrape; one that raises is logged and left out, and the scrape goes on."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labels: tuple[str, ...],
        kind: Literal["gauge", "counter"],
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels
        self.kind = kind
        self._readers: dict[tuple[str, ...], Reader] = {}

    def read(self, labels: tuple[str, ...], reader: Reader) -> None:
        """From now on the value for these label values is what `reader` answers."""
        if len(labels) != len(self.labels):
            raise ValueError(f"{self.name} takes the labels {self.labels}, not {labels}")
        self._readers[labels] = reader

    def _family(self) -> GaugeMetricFamily | CounterMetricFamily:
        cls = CounterMetricFamily if self.kind == "counter" else GaugeMetricFamily
        return cls(self.name, self.documentation, labels=self.labels)

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        for labels, reader in list(self._readers.items()):
            try:
                value = reader()
            except Exception as exc:  # a scrape must not fail for one value
                log.warning(
                    "a metric could not be read",
                    extra={"metric": self.name, "labels": labels, "error": str(exc)},
                )
                continue
            if value is not None:
                family.add_metric(labels, value)
        return [family]


class PartsHealth:
    """Each supervised part of the process, as `station.supervisor.Health` has it."""

    def __init__(self, health: Health) -> None:
        self.health = health

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def _families(self) -> tuple[GaugeMetricFamily, CounterMetricFamily]:
        up = GaugeMetricFamily(
            "diaspor_part_up",
            "1 while a supervised part of this process is ok, 0 while it is degraded (down and "
            "being started again, or running but impaired: a write that fails, an item "
            "replaced by filler, a killed encoder restarted within the last 10 s).",
            labels=("part", "channel"),
        )
        failures = CounterMetricFamily(
            "diaspor_part_failures",
            "Times a supervised part of this process failed or reported a trouble since the "
            "process started.",
            labels=("part", "channel"),
        )
        return up, failures

    def collect(self) -> Iterable[Metric]:
        up, failures = self._families()
        for name, ok, channel, count in self.health.snapshot():
            labels = (name, channel or "")
            up.add_metric(labels, 1.0 if ok else 0.0)
            failures.add_metric(labels, count)
        return [up, failures]


class JobCounts:
    """The job queue by status, read from the database before each scrape (in a thread: the
    event loop never waits on the database); left out while it cannot be read."""

    def __init__(self, count: Callable[[], Mapping[str, int]]) -> None:
        self.count = count
        self.last: Mapping[str, int] | None = None

    async def refresh(self) -> None:
        try:
            self.last = await asyncio.to_thread(self.count)
        except Exception as exc:  # the database away: the scrape goes on without it
            log.warning("the job queue could not be counted", extra={"error": str(exc)})
            self.last = None

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "diaspor_jobs",
            "Jobs in the queue by status, read from the database when scraped: queued "
            "(waiting, retries not yet due included: the queue's depth), running, done, failed "
            "(given up).",
            labels=("status",),
        )

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        for status, n in sorted((self.last or {}).items()):
            family.add_metric((status,), n)
        return [family]


class Metrics:
    """Every metric of one process. Made with the process's station and handed down to what
    counts (engines, channels, the worker, the API's request log); rendered by the API's
    `/metrics` and by the health-and-metrics port of `diaspor playout` and `diaspor worker`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._before_scrape: list[Callable[[], Awaitable[None]]] = []
        self._health: Health | None = None
        self._jobs: JobCounts | None = None
        self.listeners = self._readings(
            "diaspor_listeners",
            "Listeners connected to a radio channel's mount now: the built-in relay's own "
            "count when scraped, or icecast2's (its /status-json.xsl, as last read by the "
            "channel's on-air status every DIASPOR_ONAIR_STATUS_S).",
            ("channel", "mount"),
            "gauge",
        )
        self.encoder_restarts = self._readings(
            "diaspor_encoder_restarts",
            "Times a radio channel's encoder was started again after it stopped (killed by a "
            "signal, or exited by itself, e.g. icecast2 refusing it): the ffmpeg encoders, or "
            "the Liquidsoap process with that engine.",
            ("channel",),
            "counter",
        )
        self.dead_air = Counter(
            "diaspor_dead_air_seconds",
            "Seconds of a radio channel's output quieter than -60 dBFS in stretches of at "
            "least 5 s (the station engine's dead-air watch, on the audio as it is written to "
            "the encoder; the whole stretch counts, its first 5 s when they have passed). "
            "Not measured with the Liquidsoap engine.",
            ("channel",),
            registry=self.registry,
        )
        self.boundary_offset = Histogram(
            "diaspor_boundary_offset_seconds",
            "How far each item's start on air was from its scheduled start, as the as-run log "
            "records them (actual - planned; negative: early). Items the schedule resumed in "
            "after a live takeover are not counted. The station's own radio engine lays items "
            "to the sample (0); Liquidsoap's queue and the TV sequencer (an item joined after "
            "a restart) vary.",
            ("channel",),
            buckets=BOUNDARY_BUCKETS,
            registry=self.registry,
        )
        self.tv_playlist_lag = self._readings(
            "diaspor_tv_playlist_lag_seconds",
            "Now minus the end of the last segment in a TV channel's live playlists as last "
            "written to storage. Normally negative (segments are listed up to three target "
            "durations ahead of the clock); above 0, players reach the end of the playlist.",
            ("channel",),
            "gauge",
        )
        self.job_failures = Counter(
            "diaspor_job_failures",
            "Job attempts that failed, by job kind: each failed attempt, whether retried later "
            'or given up (diaspor_jobs{status="failed"} counts those given up).',
            ("kind",),
            registry=self.registry,
        )
        self.audience_dropped = Counter(
            "diaspor_audience_reports_dropped",
            "Audience reports (a session's start, progress or end) dropped unwritten: the "
            "queue to the ledger was full, or the database was away longer than the reports "
            "wait (audience/report_queue.py). The audio and the answers went on.",
            registry=self.registry,
        )
        self.audience_edge_lines = Counter(
            "diaspor_audience_edge_lines",
            "Requests for /files/ that nginx reported over syslog to the worker "
            "(audience/edge_log.py), by outcome: counted (handed to the HLS sessions and "
            "downloads), bad (not a line of ours: ignored) or dropped (too many waiting).",
            ("outcome",),
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "diaspor_http_request_duration_seconds",
            "API requests, from their arrival to their answer's last byte (an event stream: "
            "until it closes), by method, route template ('unmatched' when no route matched) "
            "and status; answers sent again from the replay table included.",
            ("method", "route", "status"),
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )

    def _readings(
        self,
        name: str,
        documentation: str,
        labels: tuple[str, ...],
        kind: Literal["gauge", "counter"],
    ) -> Readings:
        readings = Readings(name, documentation, labels, kind)
        self.registry.register(readings)
        return readings

    def watch_health(self, health: Health) -> None:
        """The process's supervised parts (`diaspor_part_up`, `diaspor_part_failures_total`)."""
        if self._health is None:
            self._health = health
            self.registry.register(PartsHealth(health))

    def watch_jobs(self, count: Callable[[], Mapping[str, int]]) -> None:
        """The job queue by status (`diaspor_jobs`): `count` is read in a thread before each
        scrape. Once per process: the queue is the same for every worker in it."""
        if self._jobs is None:
            self._jobs = JobCounts(count)
            self.registry.register(self._jobs)
            self._before_scrape.append(self._jobs.refresh)

    async def render(self) -> bytes:
        """The text exposition of every metric, what is read from the database read first."""
        for refresh in self._before_scrape:
            await refresh()
        return generate_latest(self.registry)
