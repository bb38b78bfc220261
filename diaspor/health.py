"""A playout process's own health answer: `GET /health` on `DIASPOR_PLAYOUT_HEALTH_PORT`,
the process's parts as JSON (200 while on air, degraded or not; 503 once it has given up).
For compose and systemd healthchecks; it reads only `station.supervisor.Health`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from station.supervisor import Health

log = logging.getLogger(__name__)


def answer(health: Health, path: str) -> bytes:
    if path.split("?", 1)[0] != "/health":
        body, status = b'{"detail": "not found"}', "404 Not Found"
    else:
        body = json.dumps(health.to_json(), ensure_ascii=False).encode()
        status = "503 Service Unavailable" if health.fatal else "200 OK"
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


async def serve_health(health: Health, host: str, port: int, stop: asyncio.Event) -> None:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            parts = line.decode("latin-1").split()
            writer.write(answer(health, parts[1] if len(parts) > 1 else "/"))
            await writer.drain()
        except (TimeoutError, OSError, UnicodeDecodeError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(client, host, port, limit=8192)
    log.info("playout health answers", extra={"url": f"http://{host}:{port}/health"})
    async with server:
        await stop.wait()
