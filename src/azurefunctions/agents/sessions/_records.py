"""What every persistent backend shares: session id rules, the TTL setting and the stored shape of a session.

The SQLite and Cosmos DB backends keep the same logical record (owner, active agent, metadata, timestamps and
the history in the runtime's message model), so a session reads the same whichever store wrote it.
"""

from __future__ import annotations

import enum
from typing import Any

from .. import settings
from ..messages import Message
from .base import Session


class FromSettings(enum.Enum):
    """Marker for a constructor argument whose default is read from the environment settings."""

    TOKEN = 0


FROM_SETTINGS = FromSettings.TOKEN


def resolve_ttl(ttl_seconds: float | FromSettings | None) -> float | None:
    """Seconds an idle session lives; ``None`` (never expire) for a zero or negative setting."""
    if isinstance(ttl_seconds, FromSettings):
        ttl_seconds = settings.get_int(settings.SESSION_TTL_SECONDS)
    if ttl_seconds is None or ttl_seconds <= 0:
        return None
    return float(ttl_seconds)


def session_body(session: Session) -> dict[str, Any]:
    """The fields of a session other than its history, its id and its version, as stored."""
    return {
        "user_id": session.user_id,
        "active_agent": session.active_agent,
        "metadata": session.metadata,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
    }


def messages_to_records(messages: list[Message]) -> list[dict[str, Any]]:
    return [message.to_dict() for message in messages]


def session_from_records(
    session_id: str, body: dict[str, Any], messages: list[dict[str, Any]], etag: str
) -> Session:
    """Rebuild a session from its stored body and history records."""
    return Session(
        id=session_id,
        user_id=body.get("user_id"),
        active_agent=body.get("active_agent"),
        messages=[Message.from_dict(record) for record in messages],
        metadata=dict(body.get("metadata") or {}),
        created_at=float(body.get("created_at") or 0.0),
        updated_at=float(body.get("updated_at") or 0.0),
        etag=etag,
    )
