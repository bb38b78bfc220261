"""Editor access tokens: a random secret shown once, stored only as its SHA-256, with a role.

A minimal scheme for the editor routes; users, passwords and JWTs come later on top of it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from station.clock import Clock
from station.db import Base, Database, UtcDateTime

ROLES = ("admin", "editor", "presenter")
PREFIX = "dsp_"


class TokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Database, clock: Clock, name: str, role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    token = PREFIX + secrets.token_urlsafe(32)
    with db.session() as s:
        s.add(TokenRow(name=name, role=role, token_sha256=_digest(token), created_at=clock.now()))
    return token


def verify_token(db: Database, token: str, admin_token: str | None = None) -> Principal | None:
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal(name="admin (from settings)", role="admin")
    with db.session() as s:
        row = s.scalars(select(TokenRow).where(TokenRow.token_sha256 == _digest(token))).first()
        if row is None or row.revoked:
            return None
        return Principal(name=row.name, role=row.role)
