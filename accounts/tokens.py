"""Credentials the API accepts: API keys (random, shown once, stored as SHA-256, with a role),
short-lived JWT access tokens for signed-in users, and their rotating refresh tokens.

API keys are for machines (`diaspor token create`, or `POST /api/v1/auth/keys`); people sign in
with a password and get a 15-minute access JWT plus a refresh token that is rotated on use.
A refresh token used twice means it was stolen: its whole family is revoked.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import jwt
from sqlalchemy import Boolean, ForeignKey, Integer, String, select, update
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm import Session as OrmSession

from accounts.users import UserRow
from station.clock import Clock
from station.credentials import same_secret
from station.db import Base, Database, UtcDateTime
from station.errors import StationError
from station.settings import Settings

ROLES = ("admin", "editor", "presenter")
PREFIX = "dsp_"
REFRESH_PREFIX = "dspr_"
ALGORITHM = "HS256"
SECRET_FILE = "jwt_secret"
# RFC 7518 §3.2: an HS256 key at least as long as the hash. Shorter ones can be guessed.
MIN_SECRET_BYTES = 32
NEW_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


class JwtSecretError(StationError):
    """The key that signs access tokens is unusable (too short, or its file empty): nothing is
    signed or verified with it, so nobody gets in with a token forged against a known key."""

    reason = "jwt-secret"


class TokenRow(Base):
    """An API key. Its role is its scope: what the matrix in api/auth.py lets that role do."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RefreshRow(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # Every token rotated from one sign-in shares its family; reuse revokes them all.
    family: Mapped[str] = mapped_column(String(32), index=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: str
    kind: str = "key"  # "key" (an API key or the settings' admin token) or "user"
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    role: str
    revoked: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Session:
    """What a sign-in or a refresh hands back; the two secrets are shown to the caller only."""

    access_token: str
    expires_in: int
    refresh_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- API keys -----------------------------------------------------------------------------


def create_token(db: Database, clock: Clock, name: str, role: str) -> str:
    return create_key(db, clock, name, role)[1]


def create_key(db: Database, clock: Clock, name: str, role: str) -> tuple[ApiKey, str]:
    """A new key and its secret; the secret is not stored and cannot be shown again."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    token = PREFIX + secrets.token_urlsafe(32)
    with db.session() as s:
        row = TokenRow(name=name, role=role, token_sha256=_digest(token), created_at=clock.now())
        s.add(row)
        s.flush()
        return _key(row), token


def list_keys(db: Database) -> list[ApiKey]:
    with db.session() as s:
        return [_key(r) for r in s.scalars(select(TokenRow).order_by(TokenRow.id))]


def revoke_key(db: Database, key_id: int) -> bool:
    """False if there is no such key."""
    with db.session() as s:
        row = s.get(TokenRow, key_id)
        if row is None:
            return False
        row.revoked = True
        return True


def _key(row: TokenRow) -> ApiKey:
    return ApiKey(row.id, row.name, row.role, row.revoked, row.created_at)


def verify_token(db: Database, token: str, admin_token: str | None = None) -> Principal | None:
    if admin_token and same_secret(token, admin_token):
        return Principal(name="admin (from settings)", role="admin")
    with db.session() as s:
        row = s.scalars(select(TokenRow).where(TokenRow.token_sha256 == _digest(token))).first()
        if row is None or row.revoked:
            return None
        return Principal(name=row.name, role=row.role)


# --- access JWTs --------------------------------------------------------------------------


def jwt_secret(settings: Settings) -> str:
    """DIASPOR_JWT_SECRET, else a secret kept in data_dir (0600) so restarts keep sessions."""
    if settings.jwt_secret is not None:
        return _checked_secret(
            settings.jwt_secret.get_secret_value(),
            "DIASPOR_JWT_SECRET",
            f"set it to a longer random value ({NEW_SECRET}), or unset it to have the station "
            f"keep one in {settings.data_dir / SECRET_FILE}",
        )
    path: Path = settings.data_dir / SECRET_FILE
    try:
        return _read_secret_file(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    return _create_secret_file(path, secrets.token_urlsafe(48))


def _checked_secret(secret: str, source: str, remedy: str) -> str:
    """`secret` if it is long enough to sign with; else JwtSecretError naming `source`."""
    size = len(secret.encode())
    if size < MIN_SECRET_BYTES:
        raise JwtSecretError(
            f"{source} is {size} bytes long; the JWT signing key must be at least "
            f"{MIN_SECRET_BYTES} bytes: {remedy}"
        )
    return secret


def _read_secret_file(path: Path) -> str:
    return _checked_secret(
        path.read_text(encoding="utf-8").strip(),
        f"the JWT secret file {path}",
        "delete it to have a new one made (everyone signed in will have to sign in again), "
        "or set DIASPOR_JWT_SECRET",
    )


def _create_secret_file(path: Path, secret: str) -> str:
    """Write `secret` to a private temp file beside `path`, flush it to disk, then publish it
    under its name in one step: a crash or a full disk leaves no file, never a partial one.

    Published with a hard link, which (unlike a rename over it) fails if another process
    starting at the same moment published its own first: then theirs is used, so every
    process signs with the same key."""
    fd, tmp = tempfile.mkstemp(prefix=f".{SECRET_FILE}-", dir=path.parent)  # 0600, O_EXCL
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secret)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _read_secret_file(path)
        except OSError:  # a file system without hard links: a rename is atomic too
            os.replace(tmp, path)
        _sync_folder(path.parent)
        return secret
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _sync_folder(folder: Path) -> None:
    """Make the new name itself durable (it lives in the folder's entries)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def issue_access(secret: str, clock: Clock, username: str, role: str, ttl_s: int) -> str:
    now = clock.now()
    claims = {
        "sub": username,
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_s)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_access(db: Database, secret: str, clock: Clock, token: str) -> Principal | None:
    """The user behind a valid, unexpired access token, if they still exist and are enabled.

    The role comes from the database, not the claim, so a demotion takes effect at once.
    A key too short to trust verifies nothing (JwtSecretError): a token forged against an
    empty or guessable key is never accepted, whatever the PyJWT version does with it.
    """
    _checked_secret(secret, "the JWT signing key", f"set DIASPOR_JWT_SECRET ({NEW_SECRET})")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={
                "require": ["sub", "exp", "iat", "jti"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidTokenError:
        return None
    # Expiry against the station's clock (a test's simulated clock too), not the wall clock.
    if int(claims["exp"]) <= int(clock.now().timestamp()):
        return None
    with db.session() as s:
        row = s.scalars(select(UserRow).where(UserRow.username == str(claims["sub"]))).first()
        if row is None or row.disabled:
            return None
        return Principal(name=row.username, role=row.role, kind="user", user_id=row.id)


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and not token.startswith((PREFIX, REFRESH_PREFIX))


# --- refresh tokens -----------------------------------------------------------------------


class Sessions:
    """Signs users in and out: access JWTs plus refresh tokens stored as hashes."""

    def __init__(self, db: Database, clock: Clock, secret: str, access_s: int, refresh_s: int):
        self.db = db
        self.clock = clock
        self.secret = secret
        self.access_s = access_s
        self.refresh_s = refresh_s

    def start(self, user_id: int, username: str, role: str) -> Session:
        """A new sign-in: the first refresh token of a new family."""
        with self.db.session() as s:
            refresh = self._add_refresh(s, user_id, uuid.uuid4().hex)
        return self._session(username, role, refresh)

    def rotate(self, refresh: str) -> Session | None:
        """A new pair for a live refresh token, which is spent; None if it is not live.

        Spending is one conditional UPDATE whose row count says who spent it, so of two
        requests racing with one token exactly one wins; the other is a reuse like any later
        one. The winner's new token is written in the same transaction as the spend, so the
        loser's revocation of the family, which waits for the spend to commit, reaches it too.
        """
        with self.db.session() as s:
            row = s.scalars(
                select(RefreshRow).where(RefreshRow.token_sha256 == _digest(refresh))
            ).first()
            if row is None:
                return None
            if row.revoked:
                self._end_family(s, row.family)
                return None
            user = s.get(UserRow, row.user_id)
            if row.expires_at <= self.clock.now() or user is None or user.disabled:
                return None
            spent = s.execute(
                update(RefreshRow)
                .where(RefreshRow.id == row.id, RefreshRow.revoked.is_(False))
                .values(revoked=True)
                .execution_options(synchronize_session=False)
            )
            if spent.rowcount != 1:  # type: ignore[attr-defined]
                self._end_family(s, row.family)
                return None
            new = self._add_refresh(s, user.id, row.family)
            name, role = user.username, user.role
        return self._session(name, role, new)

    @staticmethod
    def _end_family(s: OrmSession, family: str) -> None:
        """End every session of one sign-in: on logout, or when a spent token comes back
        (someone else has it)."""
        s.execute(
            update(RefreshRow)
            .where(RefreshRow.family == family)
            .values(revoked=True)
            .execution_options(synchronize_session=False)
        )

    def _add_refresh(self, s: OrmSession, user_id: int, family: str) -> str:
        refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
        now = self.clock.now()
        s.add(
            RefreshRow(
                user_id=user_id,
                token_sha256=_digest(refresh),
                family=family,
                expires_at=now + timedelta(seconds=self.refresh_s),
                created_at=now,
            )
        )
        return refresh

    def _session(self, username: str, role: str, refresh: str) -> Session:
        access = issue_access(self.secret, self.clock, username, role, self.access_s)
        return Session(access, self.access_s, refresh)

    def end(self, refresh: str) -> bool:
        """Revoke the sign-in this refresh token belongs to; False if it is unknown."""
        with self.db.session() as s:
            row = s.scalars(
                select(RefreshRow).where(RefreshRow.token_sha256 == _digest(refresh))
            ).first()
            if row is None:
                return False
            self._end_family(s, row.family)
            return True

    def end_all(self, user_id: int) -> None:
        """Sign a user out everywhere (disabled, or their password changed)."""
        with self.db.session() as s:
            s.execute(update(RefreshRow).where(RefreshRow.user_id == user_id).values(revoked=True))
