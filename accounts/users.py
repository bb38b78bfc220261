"""People who sign in: admins, editors and presenters, with argon2-hashed passwords.

Presenters go live with a stream key of their own (`accounts/stream_keys.py`), never their
password; the live desk (`playout/live.py`) decides whether they may at a given moment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Integer, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from station.clock import Clock
from station.db import Base, Database, UtcDateTime
from station.errors import Invalid, NotFound

ROLES = ("admin", "editor", "presenter")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# Verifying against this keeps an unknown username as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str
    role: str
    disabled: bool = False


def check_role(role: str) -> None:
    if role not in ROLES:
        raise Invalid(f"unknown role {role!r}; use one of {', '.join(ROLES)}", reason="bad-role")


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"a password has at least {MIN_PASSWORD} characters", reason="weak-password")


def check_new_user(username: str, role: str, password: str) -> None:
    if not USERNAME.match(username):
        raise Invalid(
            "a username is 2-63 lower-case letters, digits, dots, dashes or underscores",
            reason="bad-username",
        )
    check_role(role)
    check_password(password)


class Users:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def create(self, username: str, display_name: str, role: str, password: str) -> User:
        check_new_user(username, role, password)
        row = UserRow(
            username=username,
            display_name=display_name.strip() or username,
            role=role,
            password_hash=_hasher.hash(password),
            created_at=self.clock.now(),
        )
        try:
            with self.db.session() as s:
                s.add(row)
                s.flush()
                return user_of(row)
        except IntegrityError:
            raise Invalid(f"the username {username!r} is taken", reason="username-taken") from None

    def authenticate(self, username: str, password: str) -> User | None:
        """The user, if the password is theirs and the account is enabled."""
        with self.db.session() as s:
            row = s.scalars(select(UserRow).where(UserRow.username == username)).first()
            try:
                _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
            except (VerificationError, InvalidHashError):
                return None
            if row is None or row.disabled:
                return None
            return user_of(row)

    def all(self) -> list[User]:
        with self.db.session() as s:
            return [user_of(r) for r in s.scalars(select(UserRow).order_by(UserRow.username))]

    def get(self, username: str) -> User:
        with self.db.session() as s:
            return user_of(self._row(s, username))

    def update(
        self,
        username: str,
        *,
        role: str | None = None,
        disabled: bool | None = None,
        password: str | None = None,
        display_name: str | None = None,
    ) -> User:
        """Change what is given; the rest stays as it is."""
        if role is not None:
            check_role(role)
        if password is not None:
            check_password(password)
        with self.db.session() as s:
            row = self._row(s, username)
            if role is not None:
                row.role = role
            if disabled is not None:
                row.disabled = disabled
            if password is not None:
                row.password_hash = _hasher.hash(password)
            if display_name is not None:
                row.display_name = display_name.strip() or row.username
            s.flush()
            return user_of(row)

    @staticmethod
    def _row(s: Session, username: str) -> UserRow:
        row = s.scalars(select(UserRow).where(UserRow.username == username)).first()
        if row is None:
            raise NotFound(f"there is no user {username!r}", reason="no-such-user")
        return row


def user_of(row: UserRow) -> User:
    return User(row.id, row.username, row.display_name, row.role, row.disabled)
