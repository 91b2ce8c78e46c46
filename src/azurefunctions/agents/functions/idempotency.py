"""The chat route's ``Idempotency-Key`` header: a client's own id for a turn, so a retry is the same turn.

The key *is* the turn id (``ChatRequest.turn_id``): the Runner journals the turn under it, so a request that
comes again with the same key gets the finished turn's stored answer, resumes a turn whose host died (after its
last recorded step), or is refused with 409 ``turn_in_progress`` while the first request still runs. A keyed
request without a ``session_id`` gets a session id derived from the caller and the key, so a retry finds the
same conversation (and the same journal) without the client having learned the id from a reply it never got.
"""

from __future__ import annotations

import uuid

from ..errors import InvalidRequestError
from ..types import TURN_ID_PATTERN, ChatRequest

IDEMPOTENCY_HEADER = "Idempotency-Key"
#: What a key may be: a turn id (``TURN_ID_PATTERN``).
KEY_RULE = (f"The {IDEMPOTENCY_HEADER} header must be 1-128 characters: letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit (a UUID is a good key).")
#: The namespace of derived session ids (uuid5 of the caller and the key).
_SESSION_NAMESPACE = uuid.UUID("5d0c43be-6f8f-4a51-9e66-1b2d1c1f7a10")


def keyed_session_id(user_id: str | None, key: str) -> str:
    """The session of a keyed turn sent without one: the same for the same caller and key, different for
    another caller using the same key."""
    return uuid.uuid5(_SESSION_NAMESPACE, f"{user_id or ''}\n{key}").hex


def keyed_request(request: ChatRequest, key: str | None) -> ChatRequest:
    """``request`` as the turn ``key`` names (unchanged without a key); ``InvalidRequestError`` naming the header
    for a malformed key or one that contradicts the body's ``turn_id``."""
    if key is None:
        return request
    if not TURN_ID_PATTERN.match(key):
        raise InvalidRequestError(KEY_RULE)
    if request.turn_id is not None and request.turn_id != key:
        raise InvalidRequestError(f"The {IDEMPOTENCY_HEADER} header and the body's turn_id differ; send one.")
    session_id = request.session_id or keyed_session_id(request.user_id, key)
    return request.model_copy(update={"turn_id": key, "session_id": session_id})
