"""Resuming a stream: ``GET /api/sessions/{session_id}/stream?after=ID`` (or the ``Last-Event-ID`` header).

The reply replays the kept events that follow ``ID`` (without ``ID``: the latest turn from its start), then,
while that turn is still running on some instance, follows it by polling the session store every
``poll_interval`` seconds until its last event. Polling keeps instances independent: the turn may be running
on another instance of a scaled-out app, and the store is the one place both can see.

Only the owner may resume: the session's ``user_id`` (or, for a first turn not saved yet, the user the turn
runs for) must match the ``user_id`` query parameter, else the answer is 404 as for an unknown session. With
nothing to send (no events after ``ID`` and the turn has ended) the answer is ``204 No Content``, which also
tells a browser ``EventSource`` to stop reconnecting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from ..errors import InvalidRequestError, SessionNotFoundError, owned_by
from ..http.calls import SSE_TYPE, HttpCall, HttpReply, error_envelope, error_reply
from ..messages import SESSION_ID_PATTERN, SESSION_ID_RULE
from ..sessions.event_log import event_log_for
from ..sessions.events import TurnLog, parse_event_id
from ..streaming.sse import KEEP_ALIVE, SSE_HEADERS, encode

if TYPE_CHECKING:
    from ..sessions.base import SessionStore

logger = logging.getLogger("azurefunctions.agents.streaming")


class StreamResumer:
    """``poll_interval``: seconds between store reads while following a running turn. ``give_up_after``:
    stop following a turn whose log has not grown for this long (its instance went away). ``keep_alive``:
    seconds between comment lines while waiting."""

    def __init__(self, store: SessionStore, *, poll_interval: float = 0.5, give_up_after: float = 300.0,
                 keep_alive: float = 15.0) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self.give_up_after = give_up_after
        self.keep_alive = keep_alive

    async def reply(self, call: HttpCall) -> HttpReply:
        session_id = call.route_params.get("session_id", "")
        if not SESSION_ID_PATTERN.match(session_id):
            return error_reply(400, "invalid_request", SESSION_ID_RULE)
        after = (call.header("last-event-id") or "").strip() or (call.query.get("after") or "").strip() or None
        if after is not None:
            try:
                parse_event_id(after)
            except InvalidRequestError as exc:
                return error_reply(400, exc.code, exc.message, session_id=session_id)
        user_id = call.query.get("user_id") or None
        session = await self.store.load_recent(session_id, 0)  # the owner only, not the history
        if session is not None and not owned_by(session.user_id, user_id):
            return _not_found(session_id)
        turns = _visible(await event_log_for(self.store).read(session_id, after), user_id)
        if not turns:
            if session is None:
                return _not_found(session_id)
            return HttpReply(status=204, body=b"")
        if not any(turn.events for turn in turns) and turns[-1].complete:
            return HttpReply(status=204, body=b"")
        return HttpReply(status=200, media_type=SSE_TYPE, headers=dict(SSE_HEADERS),
                         stream=self._follow(session_id, user_id, after, turns))

    async def _follow(self, session_id: str, user_id: str | None, after: str | None,
                      turns: list[TurnLog]) -> AsyncIterator[bytes]:
        last = after
        last_progress = time.monotonic()
        last_sent = time.monotonic()
        while True:
            for turn in turns:
                for event in turn.events:
                    yield encode(event)
                    last = event.id
            now = time.monotonic()
            if turns and any(turn.events for turn in turns):
                last_progress = last_sent = now
            latest = turns[-1] if turns else None
            if latest is not None and latest.complete:
                return
            if now - last_progress > self.give_up_after:
                logger.info("stopped following session %s: its turn wrote nothing for %.0f s", session_id,
                            self.give_up_after)
                return
            if now - last_sent >= self.keep_alive:
                yield KEEP_ALIVE
                last_sent = now
            await asyncio.sleep(self.poll_interval)
            turns = _visible(await event_log_for(self.store).read(session_id, last), user_id)
            if not turns:  # the session was deleted (or its log expired) meanwhile
                return


def _visible(turns: list[TurnLog], user_id: str | None) -> list[TurnLog]:
    """The turns this user may read: their own, and those of sessions without an owner."""
    return [turn for turn in turns if owned_by(turn.owner, user_id)]


def _not_found(session_id: str) -> HttpReply:
    return error_envelope(SessionNotFoundError.for_id(session_id), session_id=session_id)
