"""Session ids: the one check every store and repository applies before using an id as a key."""

from __future__ import annotations

from ..errors import InvalidRequestError
from ..messages import SESSION_ID_PATTERN, SESSION_ID_RULE


def check_session_id(session_id: object) -> str:
    """The session id, or ``InvalidRequestError`` naming what a valid one looks like."""
    if not isinstance(session_id, str) or not SESSION_ID_PATTERN.match(session_id):
        raise InvalidRequestError(SESSION_ID_RULE)
    return session_id
