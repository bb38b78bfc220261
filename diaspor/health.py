"""The own HTTP answer of a process without the API (`diaspor playout`, `diaspor worker`), on
`DIASPOR_METRICS_PORT`: `GET /health`, the process's parts as JSON (200 while it runs,
degraded or not; 503 once it has given up), for compose and systemd healthchecks; and
`GET /metrics`, the process's metrics for Prometheus.

A few lines of asyncio rather than an HTTP framework or prometheus_client's own server (a
thread of its own): it runs as a part of the process's supervisor, on the process's event
loop, reads the process's state where it lives, and closes with the process. One request per
connection, a bounded request line, a few seconds to send it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from prometheus_client import CONTENT_TYPE_LATEST

from station.metrics import Metrics
from station.supervisor import Health

log = logging.getLogger(__name__)


def head(status: str, content_type: str, length: int) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    ).encode()


def health_answer(health: Health) -> bytes:
    body = json.dumps(health.to_json(), ensure_ascii=False).encode()
    status = "503 Service Unavailable" if health.fatal else "200 OK"
    return head(status, "application/json", len(body)) + body


async def answer(health: Health, metrics: Metrics | None, method: str, path: str) -> bytes:
    path = path.split("?", 1)[0]
    if path == "/health":
        reply = health_answer(health)
    elif path == "/metrics" and metrics is not None:
        body = await metrics.render()
        reply = head("200 OK", CONTENT_TYPE_LATEST, len(body)) + body
    else:
        body = b'{"detail": "not found"}'
        reply = head("404 Not Found", "application/json", len(body)) + body
    if method == "HEAD":  # the head alone (Content-Length as for GET)
        return reply.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    return reply


async def serve_health(
    health: Health,
    host: str,
    port: int,
    stop: asyncio.Event,
    metrics: Metrics | None = None,
) -> None:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            parts = line.decode("latin-1").split()
            method, path = (parts[0], parts[1]) if len(parts) > 1 else ("GET", "/")
            writer.write(await answer(health, metrics, method, path))
            await asyncio.wait_for(writer.drain(), 5)
        except (TimeoutError, OSError, UnicodeDecodeError, ValueError):
            pass  # a client that could not say or take its request: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(client, host, port, limit=8192)
    urls = {"health": f"http://{host}:{port}/health"}
    if metrics is not None:
        urls["metrics"] = f"http://{host}:{port}/metrics"
    log.info("health and metrics answer here", extra=urls)
    async with server:
        await stop.wait()
