"""Liveness and what is degraded: the database, and each channel's parts as playout sees them
(in this process, or followed from a playout process through its on-air status)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.auth import MaybeCaller, ServicesDep
from api.schemas import ChannelHealth, Health

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/health", response_model=Health)
def get_health(svc: ServicesDep, request: Request, who: MaybeCaller) -> Health:
    try:
        with svc.db.session() as s:
            s.execute(text("SELECT 1"))
        reachable = True
    except SQLAlchemyError as exc:
        log.warning("health: the database is not reachable", extra={"error": str(exc)})
        reachable = False
    channels: dict[str, ChannelHealth] = {}
    follower = getattr(request.app.state, "follower", None)
    for slug, status in follower.statuses.items() if follower is not None else []:
        if status.health:
            channels[slug] = ChannelHealth.model_validate(status.health)
    local = svc.health
    for slug in {p.channel for p in local.parts.values() if p.channel}:
        channels[slug] = ChannelHealth.model_validate(local.channel_status(slug))
    degraded = not reachable or any(c.status != "ok" for c in channels.values())
    status = "failed" if local.fatal else "degraded" if degraded else "ok"
    if who is None or who.role != "admin":  # a stranger learns that, and nothing more
        public = {slug: ChannelHealth(status=c.status) for slug, c in channels.items()}
        return Health(status=status, database_reachable=reachable, channels=public)
    return Health(
        status=status,
        database_reachable=reachable,
        channels=channels,
        database=svc.db.engine.dialect.name,
        storage=svc.storage.describe(),
        ffmpeg=svc.tools.source,
    )
