"""The console's own tables (created by the Alembic migration ``0100_console``; imported by models.py so that they share its metadata): sessions, users with a
password, alert acknowledgements, and the daily severity counts the 30-day trend draws.

A session row is keyed by the SHA-256 of the cookie's random id and hangs on the token or the user that
opened it (``ON DELETE CASCADE``); ``load_session`` joins back to that credential on every request, so a
revoked token, a disabled user or an expired session logs the browser out at once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from containerguard.server.store.models import Base, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id (argon2-cffi), parameters in the hash
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's session id
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), default=None, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), default=None, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    remote_addr: Mapped[str] = mapped_column(String(64), default="")


class AlertAck(Base):
    __tablename__ = "alert_acks"

    alert_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    by: Mapped[str] = mapped_column(String(255))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SeverityDaily(Base):
    """Findings by severity across all images, one row per day (written when the dashboard is drawn and
    after rescans), for the 30-day trend."""

    __tablename__ = "severity_daily"

    day: Mapped[dt.date] = mapped_column(primary_key=True)
    critical: Mapped[int] = mapped_column(Integer, default=0)
    high: Mapped[int] = mapped_column(Integer, default=0)
    medium: Mapped[int] = mapped_column(Integer, default=0)
    low: Mapped[int] = mapped_column(Integer, default=0)
    unknown: Mapped[int] = mapped_column(Integer, default=0)
