"""The one place that configures logging: plain lines for a terminal, JSON lines when asked,
credentials masked in every line either writes, and the id of the request being answered on
every line logged while it is.

ffmpeg and Liquidsoap print the URLs they were given (`icecast://source:PASSWORD@host`) in
their complaints, and a pre-signed storage URL carries its signature: `redact` masks those in
a line, and the formatters run it over every record's message, context and error, whatever
module logged it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import sys
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

MASK = "***"
# scheme://user:password@ — the password ends at the last "@" before the host's "/".
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]*):[^\s/'\"]*@")
# Secret query parameters (SRT's passphrase and stream id, a pre-signed URL's signature and
# credential, tokens) and a secret command-line option's value (`-passphrase VALUE`).
_SECRET_PARAM = re.compile(
    r"(?i)((?:^|[?&;\s'\"])(?:passphrase|streamid|password|passwd|pass|pwd|secret|token"
    r"|access_token|api_key|apikey|x-amz-signature|x-amz-credential|x-amz-security-token"
    r"|signature|sig)=)[^&\s'\"]+"
)
_SECRET_OPTION = re.compile(r"((?:^|\s)-(?:passphrase|password)\s+)\S+")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with URL passwords, secret parameters and options, and each of `secrets` (a
    stream key, say, that has no tell-tale shape) replaced by `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    # Each pattern needs its marker in the text: most lines have none of them, and this runs
    # over every value of every line (a request line each request).
    if "://" in text:
        text = _URL_PASSWORD.sub(rf"\1:{MASK}@", text)
    if "=" in text:
        text = _SECRET_PARAM.sub(rf"\1{MASK}", text)
    if "-pass" in text:
        text = _SECRET_OPTION.sub(rf"\1{MASK}", text)
    return text


# Attributes every LogRecord has; anything else was passed through `extra=` and is context.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _context(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: _redacted(v)
        for k, v in vars(record).items()
        if k not in _STANDARD and not k.startswith("_") and k != "color_message"
    }


def _redacted(value: Any) -> Any:
    """A context value as it may be written: text masked; anything else kept as it is unless
    its text holds a secret (then that masked text)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    masked = redact(text)
    return masked if isinstance(value, str) or masked != text else value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
            **_context(record),
        }
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ctx = _context(record)
        if ctx:
            line += " " + " ".join(f"{k}={v}" for k, v in ctx.items())
        return redact(line)


# The id of the API request being answered (api/request_log.py sets it for the request's
# task; threads it starts take a copy of the context), None elsewhere.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Every line logged while a request is answered carries its id (`request_id`), so that
    what one request did can be found among many."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = REQUEST_ID.get()
        if rid is not None and "request_id" not in record.__dict__:
            record.request_id = rid
        return True


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    # What the formatters never show is not gathered for every record (Python's logging
    # HOWTO, "Optimization"): the caller's file and line, thread and process names. With a
    # line per API request, that was a third of what the line cost.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log repeats what our own request logging says; keep its errors.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


_ADDRESS_KEY = secrets.token_bytes(16)  # this process's, never written: tags cannot be undone


def address_tag(address: str) -> str:
    """What a log line may say of a client's address: 8 hex digits of a keyed hash (HMAC
    under a random key of this process), so lines of one client can be told apart within a
    run, and the address itself is never written (nor can it be recovered from the tag by
    trying every address: the key is not kept anywhere)."""
    return hmac.new(_ADDRESS_KEY, address.encode(), hashlib.sha256).hexdigest()[:8]
