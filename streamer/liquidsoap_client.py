"""The client for Liquidsoap's control server (telnet or unix socket): commands sent, replies
read up to `END` and parsed, refusals raised as `LiquidsoapError`.

The reply parsing is pure so that what 2.1.3 answers can be tested without a server;
`LiquidsoapClient` is the thin I/O shell around it. What 2.1.3 taught us, and this relies on:

- Replies end with a line `END`; a few lines inside a reply end in `\\n`, the rest in `\\r\\n`.
- `request.metadata` prints `key="value"` lines with JSON-style escapes (`\\"`, `\\\\`, `\\n`,
  `\\uXXXX`); UTF-8 letters are printed as they are.
- `var.set` splits its argument on `=` without trimming: `var.set name = 1.0` is refused with
  "Syntax error or variable not found.", while `var.set name=1.0` works. The variables are the
  script's `interactive.float/int/bool/string` ones.
- A request that cannot be resolved or decoded is dropped by the queue without a word on the
  server ("Fetch failed: retry." in the log); `request.metadata` then answers
  "No such request.", as it does for a request that has finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
from datetime import timedelta
from pathlib import Path

from station.errors import StationError
from streamer.liquidsoap_script import check_id

_META_LINE = re.compile(r'^([^="\r\n]+)="((?:[^"\\]|\\.)*)"', re.MULTILINE | re.DOTALL)
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)", re.DOTALL)
_UPTIME = re.compile(r"(\d+)d\s+(\d+)h\s+(\d+)m\s+(\d+)s")
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "n": "\n", "t": "\t", "r": "\r"}
_SIMPLE_ESCAPES |= {"b": "\b", "f": "\f"}


class LiquidsoapError(StationError):
    """Liquidsoap refused a command, answered something unexpected, or could not be run."""

    reason = "liquidsoap-error"

    def __init__(self, message: str, *, command: str | None = None, reply: str | None = None):
        super().__init__(message)
        self.command = command
        self.reply = reply


# --- pure: replies ----------------------------------------------------------------------------


def unescape(text: str) -> str:
    """Undo Liquidsoap's string escaping (JSON-style, plus `\\xNN`)."""

    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        if code[0] in "ux" and len(code) > 1:
            return chr(int(code[1:], 16))
        return _SIMPLE_ESCAPES.get(code, code)

    out = _ESCAPE.sub(one, text)
    if any("\ud800" <= ch <= "\udfff" for ch in out):  # a \uXXXX surrogate pair
        out = out.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return out


def parse_metadata(reply: str) -> dict[str, str]:
    """`request.metadata` reply: `key="value"` per line, values escaped (may hold `\\n`)."""
    return {m.group(1).strip(): unescape(m.group(2)) for m in _META_LINE.finditer(reply)}


def parse_ids(reply: str) -> list[int]:
    """A reply listing request ids (`request.on_air`, `<queue>.queue`): space separated."""
    try:
        return [int(tok) for tok in reply.split()]
    except ValueError:
        raise LiquidsoapError(f"expected request ids, got {reply!r}", reply=reply) from None


def parse_uptime(reply: str) -> timedelta:
    m = _UPTIME.search(reply)
    if m is None:
        raise LiquidsoapError(f"unreadable uptime {reply!r}", command="uptime", reply=reply)
    d, h, mi, s = (int(g) for g in m.groups())
    return timedelta(days=d, hours=h, minutes=mi, seconds=s)


def _format_var(value: float | int | bool | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} cannot be sent to Liquidsoap")
        return repr(value)
    if "=" in value or "\n" in value or "\r" in value:
        raise ValueError(f"{value!r}: var.set cannot carry '=' or line breaks")
    return value


# --- shell: the client -----------------------------------------------------------------------


class LiquidsoapClient:
    """One connection to Liquidsoap's server (telnet TCP, or a unix socket).

    Commands are serialised by a lock, so concurrent callers never read each other's
    replies. A broken or timed-out connection is closed and re-opened by the next command;
    a command is never re-sent on its own (a repeated push would air twice).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        path: Path | None = None,
        timeout: float = 10.0,
    ) -> None:
        if (port is None) == (path is None):
            raise ValueError("give either a telnet port or a unix socket path")
        self.port = port
        self.host = host
        self.path = path
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()

    @property
    def address(self) -> str:
        return str(self.path) if self.path is not None else f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._writer is not None

    async def connect(self) -> None:
        if self._writer is not None:
            return
        try:
            async with asyncio.timeout(self.timeout):
                if self.path is not None:
                    reader, writer = await asyncio.open_unix_connection(
                        str(self.path), limit=1 << 20
                    )
                else:
                    reader, writer = await asyncio.open_connection(
                        self.host, self.port, limit=1 << 20
                    )
        except (OSError, TimeoutError) as exc:
            raise LiquidsoapError(
                f"cannot reach the Liquidsoap server at {self.address}: {exc}"
            ) from exc
        self._reader, self._writer = reader, writer

    async def close(self) -> None:
        """Say goodbye (`quit`) and close; safe to call twice or after a failure."""
        async with self._lock:
            writer, reader = self._writer, self._reader
            if writer is None or reader is None:
                return
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(1.0):
                    writer.write(b"quit\n")
                    await writer.drain()
                    await reader.read()  # "Bye!", then Liquidsoap closes its side
            await self._drop()

    async def _drop(self) -> None:
        writer = self._writer
        self._reader = self._writer = None
        if writer is None:
            return
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(1.0):
                await writer.wait_closed()

    async def __aenter__(self) -> LiquidsoapClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def command(self, cmd: str) -> str:
        """Send one command line; the reply's text before `END`. `ERROR: ...` raises."""
        if "\n" in cmd or "\r" in cmd:
            raise ValueError(f"a Liquidsoap command is one line: {cmd!r}")
        async with self._lock:
            await self.connect()
            assert self._reader is not None and self._writer is not None
            lines: list[str] = []
            try:
                async with asyncio.timeout(self.timeout):
                    self._writer.write(cmd.encode("utf-8") + b"\n")
                    await self._writer.drain()
                    while True:
                        raw = await self._reader.readline()
                        if not raw:
                            raise LiquidsoapError(
                                f"Liquidsoap at {self.address} closed the connection during "
                                f"{cmd!r}",
                                command=cmd,
                                reply="\n".join(lines),
                            )
                        line = raw.decode("utf-8", "replace").rstrip("\r\n")
                        if line == "END":
                            break
                        lines.append(line)
            except TimeoutError:
                await self._drop()
                raise LiquidsoapError(
                    f"no reply from Liquidsoap at {self.address} to {cmd!r} within "
                    f"{self.timeout} s",
                    command=cmd,
                    reply="\n".join(lines),
                ) from None
            except (OSError, LiquidsoapError) as exc:
                await self._drop()
                if isinstance(exc, LiquidsoapError):
                    raise
                raise LiquidsoapError(
                    f"lost the connection to Liquidsoap at {self.address} during {cmd!r}: {exc}",
                    command=cmd,
                ) from exc
        reply = "\n".join(lines)
        if reply.startswith("ERROR"):
            raise LiquidsoapError(
                f"Liquidsoap refused {cmd!r}: {reply.strip()}", command=cmd, reply=reply
            )
        return reply

    async def push(self, queue_id: str, uri: str) -> int:
        """Append a request to a `request.queue`; the new request id."""
        check_id("queue id", queue_id)
        cmd = f"{queue_id}.push {uri}"
        reply = await self.command(cmd)
        try:
            return int(reply.strip())
        except ValueError:
            raise LiquidsoapError(
                f"push to {queue_id!r} was not accepted: {reply.strip()!r}",
                command=cmd,
                reply=reply,
            ) from None

    async def on_air(self) -> list[int]:
        """Ids of the requests on air now (two while a crossfade overlaps them)."""
        return parse_ids(await self.command("request.on_air"))

    async def metadata(self, rid: int) -> dict[str, str]:
        cmd = f"request.metadata {int(rid)}"
        reply = await self.command(cmd)
        if reply.strip() == "No such request.":
            raise LiquidsoapError(f"no request {rid} in Liquidsoap", command=cmd, reply=reply)
        return parse_metadata(reply)

    async def queue(self, queue_id: str) -> list[int]:
        """Ids waiting in a queue (not the one playing)."""
        check_id("queue id", queue_id)
        return parse_ids(await self.command(f"{queue_id}.queue"))

    async def skip(self, source_id: str) -> None:
        """End the current track of a queue or an output now (`<id>.skip`)."""
        check_id("source id", source_id)
        cmd = f"{source_id}.skip"
        reply = await self.command(cmd)
        if reply.strip() != "Done.":
            raise LiquidsoapError(f"{cmd!r} failed: {reply.strip()!r}", command=cmd, reply=reply)

    async def var_set(self, name: str, value: float | int | bool | str) -> None:
        """Set one of the script's `interactive.*` variables (e.g. `MASTER_GAIN_VAR`)."""
        check_id("variable", name)
        cmd = f"var.set {name}={_format_var(value)}"
        reply = await self.command(cmd)
        if reply.strip() != f"Variable {name} set.":
            raise LiquidsoapError(
                f"cannot set variable {name!r}: {reply.strip()}", command=cmd, reply=reply
            )

    async def var_get(self, name: str) -> str:
        check_id("variable", name)
        cmd = f"var.get {name}"
        reply = await self.command(cmd)
        if reply.strip() == "Variable not found.":
            raise LiquidsoapError(f"no variable {name!r} in Liquidsoap", command=cmd, reply=reply)
        return reply.strip()

    async def uptime(self) -> timedelta:
        return parse_uptime(await self.command("uptime"))

    async def version(self) -> str:
        """E.g. "Liquidsoap 2.1.3"."""
        return (await self.command("version")).strip()
