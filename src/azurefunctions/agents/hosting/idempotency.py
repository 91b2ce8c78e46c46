"""The chat route's ``Idempotency-Key`` header: a client's own id for a turn, so a retry is the same turn.

The key *is* the turn id (``ChatRequest.turn_id``): the Runner journals the turn under it, so a request that
comes again with the same key gets the finished turn's stored answer, resumes a turn whose host died (after its
last recorded step), or is refused with 409 ``turn_in_progress`` while the first request still runs. A keyed
request without a ``session_id`` gets a session id derived from the caller and the key, so a retry finds the
same conversation (and the same journal) without the client having learned the id from a reply it never got.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from ..errors import (
    InvalidRequestError,
    TurnIdReusedError,
    TurnInProgressError,
    TurnNotFoundError,
    TurnParkedError,
)
from ..events import AgentEvent, TurnFailed
from ..types import TURN_ID_PATTERN, ChatRequest, ChatResponse

IDEMPOTENCY_HEADER = "Idempotency-Key"
#: What a key may be: a turn id (``TURN_ID_PATTERN``).
KEY_RULE = (f"The {IDEMPOTENCY_HEADER} header must be 1-128 characters: letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit (a UUID is a good key).")
def keyed_request(request: ChatRequest, key: str | None) -> ChatRequest:
    """``request`` as the turn ``key`` names (unchanged without a key); ``InvalidRequestError`` naming the header
    for a malformed key or one that contradicts the body's ``turn_id``. (The session a keyed turn without one
    gets is derived by the Runner: ``TurnExecutor.keyed_session``.)"""
    if key is None:
        return request
    if not TURN_ID_PATTERN.match(key):
        raise InvalidRequestError(KEY_RULE)
    if request.turn_id is not None and request.turn_id != key:
        raise InvalidRequestError(f"The {IDEMPOTENCY_HEADER} header and the body's turn_id differ; send one.")
    return request.model_copy(update={"turn_id": key})


#: Refusals after which the same request succeeds soon (the running turn ends, or resumes on another instance):
#: answered with ``Retry-After``.
RETRY_SOON_CODES = frozenset({TurnInProgressError.code, TurnParkedError.code})
#: What a keyed request may meet before its turn starts, meaning "nothing ran for this request": answered as an
#: HTTP error (409, 404) even when a stream was asked for, so a client's retry logic sees the status.
REFUSED_CODES = frozenset({TurnInProgressError.code, TurnIdReusedError.code, TurnNotFoundError.code})


async def refused_before_start(
        events: AsyncIterator[AgentEvent]) -> tuple[AsyncIterator[AgentEvent], ChatResponse | None]:
    """The turn's events (unchanged), or the refusal a keyed request met before its turn started.

    Reads the first event now: a streamed reply commits to 200 with its first byte, so a retry that finds its
    turn still running would otherwise get 200 and an ``error`` event instead of 409.
    """
    first = await anext(aiter(events), None)
    if isinstance(first, TurnFailed) and first.code in REFUSED_CODES:
        await events.aclose()  # type: ignore[attr-defined]
        return events, first.response or ChatResponse(status="error", error=first.message, error_code=first.code,
                                                      agent=first.agent, status_code=first.status)

    async def chained() -> AsyncIterator[AgentEvent]:
        if first is not None:
            yield first
        async for event in events:
            yield event

    return chained(), None
