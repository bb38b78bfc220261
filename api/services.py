"""What the API needs from the station, as a Protocol: the app is handed these parts."""

from __future__ import annotations

from typing import Any, Protocol

from accounts.stream_keys import StreamKeys
from accounts.users import Users
from audience.report_queue import Reports
from jobs.queue import JobQueue
from media.binaries import Tools
from media.library import Library
from media.storage import Storage
from media.storage import public_file_url as public_file_url
from playout.live import LiveDesk
from playout.nowplaying import NowPlayingHub
from schedules.service import Schedules
from station.clock import Clock
from station.db import Database
from station.metrics import Metrics
from station.settings import Settings
from station.supervisor import Health


class Services(Protocol):
    settings: Settings
    clock: Clock
    db: Database
    storage: Storage
    tools: Tools
    queue: JobQueue
    library: Library
    schedules: Schedules
    users: Users
    stream_keys: StreamKeys
    live_desk: LiveDesk
    on_air: dict[str, list[dict[str, Any]]]
    now_playing: NowPlayingHub
    health: Health
    metrics: Metrics
    audience: Reports
