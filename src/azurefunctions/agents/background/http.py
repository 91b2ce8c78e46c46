"""The HTTP side of background turns: ``"async": true`` (or ``Prefer: respond-async``) on the chat route, and
``GET``/``DELETE /api/sessions/{session_id}/turns/{turn_id}``.

A client asks for an asynchronous turn with ``"async": true`` in the body, which is an error (400) when the
app runs no background work, or with the ``Prefer: respond-async`` header, which (as RFC 7240 allows for any
preference) an app without background work ignores by answering synchronously.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError
from ..http.calls import HttpCall, HttpReply, error_reply, json_reply
from ..http.routes import ROUTES_BY_NAME, url_for
from ..messages import SESSION_ID_PATTERN, SESSION_ID_RULE
from ..types import TURN_ID_PATTERN

if TYPE_CHECKING:
    from ..agent import Agent
    from ..types import ApprovalDecision, ChatRequest
    from .records import TurnRecord
    from .service import BackgroundTurns


def turn_location(record: TurnRecord, api_base: str = "/api") -> str:
    """The turn's URL path; ``api_base`` is where the app's ``api/`` paths are served (host.json's prefix)."""
    return url_for(ROUTES_BY_NAME["sessions_turn"], api_base, session_id=record.session_id,
                   turn_id=record.turn_id)


def _prefers_async(call: HttpCall) -> bool:
    prefer = call.header("prefer") or ""
    return any(part.strip().lower() == "respond-async" for item in prefer.split(",") for part in item.split(";"))


class BackgroundHttp:
    """Route logic for background turns; ``background`` None means the app runs none."""

    def __init__(self, background: BackgroundTurns | None, api_base: str = "/api") -> None:
        self.background = background
        self.api_base = api_base

    def wants_async(self, call: HttpCall, body: dict[str, Any]) -> bool:
        """Whether this chat call should be queued; ``InvalidRequestError`` for a bad or unserviceable
        ``async`` field."""
        flag = body.get("async")
        if flag is not None and not isinstance(flag, bool):
            raise InvalidRequestError("async must be true or false")
        if flag is True and self.background is None:
            raise InvalidRequestError(
                "This app does not run background turns: create it with AgentFunctionApp(..., background=True), "
                "or send the request without \"async\".", code="async_not_enabled")
        if self.background is None or flag is False:
            return False
        return flag is True or _prefers_async(call)

    async def submit(self, agent: Agent, request: ChatRequest) -> HttpReply:
        """``202 Accepted`` with the turn's ids and where to follow it."""
        assert self.background is not None
        record = await self.background.submit(agent.name, request)
        return self._accepted(record)

    async def submit_decisions(self, agent: str, request: ChatRequest, turn_id: str,
                               decisions: list[ApprovalDecision]) -> HttpReply:
        """``202 Accepted``: the paused turn resumes in the background; its status URL is the turn's."""
        if self.background is None:
            raise InvalidRequestError(
                "This app does not run background turns: create it with AgentFunctionApp(..., background=True), "
                "or send the decisions without \"async\".", code="async_not_enabled")
        record = await self.background.resume_approved(agent, request, turn_id=turn_id, decisions=decisions)
        return self._accepted(record)

    def _accepted(self, record: TurnRecord) -> HttpReply:
        location = turn_location(record, self.api_base)
        return json_reply({"status": record.status, "session_id": record.session_id, "turn_id": record.turn_id,
                           "agent": record.agent, "location": location,
                           "stream": url_for(ROUTES_BY_NAME["sessions_stream"], self.api_base,
                                             session_id=record.session_id)},
                          status=202, headers={"Location": location, "Retry-After": "1"})

    async def turn(self, call: HttpCall) -> HttpReply:
        """``GET``: the turn's status, and its answer once it has one; ``DELETE``: cancel it. Owner only."""
        session_id = call.route_params.get("session_id", "")
        turn_id = call.route_params.get("turn_id", "")
        if not SESSION_ID_PATTERN.match(session_id):
            return error_reply(400, "invalid_request", SESSION_ID_RULE)
        if not TURN_ID_PATTERN.match(turn_id):
            return error_reply(400, "invalid_request", "turn_id must be the turn id the 202 response gave.",
                               session_id=session_id)
        not_found = error_reply(404, "turn_not_found", f"Turn {turn_id} of session {session_id} was not found.",
                                session_id=session_id)
        if self.background is None:
            return not_found
        user_id = call.query.get("user_id") or None
        if call.method.upper() == "DELETE":
            record = await self.background.cancel(session_id, turn_id, user_id=user_id)
        else:
            record = await self.background.get(session_id, turn_id, user_id=user_id)
        if record is None:
            return not_found
        headers = {} if record.done else {"Retry-After": "1"}
        return json_reply(record.to_public(), headers=headers)
