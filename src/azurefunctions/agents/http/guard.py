"""What every HTTP invocation passes before its handler: who may call, and the limits of a turn.

One wrapper around each route's dispatch, so every route (standard, MCP, A2A) is covered the same way:

1. Entra ID (when the app has ``auth=``): every route but the anonymous groups (health, ``openapi.json``, agent
   cards) needs an allowed principal; the principal's object id replaces any ``user_id`` the caller sent, in the
   query and in a chat-group body (built-in chat and an app's own turn routes), so sessions are owned by the
   signed-in caller and nobody else's can be reached.
2. Turn routes (chat, MCP, A2A RPC): a slot of the instance's concurrent-turn limit (503 ``too_busy`` when
   none is free), the message-length limit of a chat body, and the turn-duration limit (504 ``turn_timeout``).
3. Every reply: known secret values (keys the app was configured with) are replaced in its body, whatever a
   model, a tool or an error put there.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

from ..errors import AgentFrameworkError, TurnTimeoutError
from ..limits import Limits, TurnSlots, check_message
from ..redaction import known_secrets, redact_bytes
from .auth import EntraAuth
from .calls import HttpCall, HttpReply, error_envelope
from .routes import DEFAULT_GROUP_AUTH, RouteSpec

logger = logging.getLogger("azurefunctions.agents.http")

Dispatch = Callable[[HttpCall], Awaitable[HttpReply]]

#: Route groups that stay public in Entra mode: health, the OpenAPI description and the agent cards.
PUBLIC_GROUPS = frozenset(group for group, level in DEFAULT_GROUP_AUTH.items() if level == "ANONYMOUS")
#: The group of routes that take a chat-like JSON body (``message``, ``user_id``): the built-in chat routes and
#: an app's own turn routes (``@app.agent_route``).
CHAT_GROUP = "chat"
#: Route groups whose calls run agent turns.
TURN_GROUPS = frozenset({CHAT_GROUP, "mcp", "a2a"})
#: Routes of other groups that run turns too: a decision resumes the turn it decides.
TURN_ROUTES = frozenset({"sessions_turn_approvals"})
_RETRY_AFTER_SECONDS = "2"


class RouteGuard:
    """Auth and limits around one app's dispatch; ``wrap(spec, dispatch)`` gives the guarded dispatch."""

    def __init__(self, *, auth: EntraAuth | None, limits: Limits) -> None:
        self.auth = auth
        self.limits = limits
        self.slots = TurnSlots(limits.max_concurrent_turns)

    def wrap(self, spec: RouteSpec, dispatch: Dispatch) -> Dispatch:
        protected = self.auth is not None and spec.group not in PUBLIC_GROUPS
        turns = spec.group in TURN_GROUPS or spec.name in TURN_ROUTES

        async def guarded(call: HttpCall) -> HttpReply:
            return _scrubbed(await checked(call))

        async def checked(call: HttpCall) -> HttpReply:
            try:
                if protected:
                    call = self._authenticated(call, spec)
                if not turns:
                    return await dispatch(call)
                if spec.group == CHAT_GROUP:
                    self._check_chat_body(call)
                return await self._turn(call, dispatch)
            except AgentFrameworkError as exc:
                headers = {"WWW-Authenticate": 'Bearer realm="entra"'} if exc.status == 401 else {}
                if exc.status == 503:
                    headers["Retry-After"] = _RETRY_AFTER_SECONDS
                return error_envelope(exc, agent=call.route_params.get("agent_name") if exc.status not in (401, 403)
                                      else None, headers=headers)

        return guarded

    # Auth -------------------------------------------------------------------------------------------------
    def _authenticated(self, call: HttpCall, spec: RouteSpec) -> HttpCall:
        assert self.auth is not None
        principal = self.auth.authenticate(call.headers)
        query = {**call.query, "user_id": principal.user_id}
        body = call.body
        if spec.group == CHAT_GROUP and call.method.upper() == "POST" and len(body) <= self.limits.max_body_bytes:
            body = _with_user_id(call.body, principal.user_id)
        return replace(call, query=query, body=body, principal_id=principal.user_id)

    # Limits -----------------------------------------------------------------------------------------------
    def _check_chat_body(self, call: HttpCall) -> None:
        # A message has no more characters than its body has bytes, so small bodies need no parsing here.
        if len(call.body) <= self.limits.max_message_chars or len(call.body) > self.limits.max_body_bytes:
            return
        data = _json_object(call.body)
        if data is not None:
            check_message(data.get("message"), self.limits.max_message_chars)

    async def _turn(self, call: HttpCall, dispatch: Dispatch) -> HttpReply:
        self.slots.acquire()
        released = False
        try:
            try:
                async with asyncio.timeout(self.limits.turn_timeout_seconds):
                    reply = await dispatch(call)
            except TimeoutError:
                logger.warning("%s %s exceeded the turn timeout of %ss", call.method, call.path,
                               self.limits.turn_timeout_seconds)
                raise TurnTimeoutError(
                    f"The turn took longer than {self.limits.turn_timeout_seconds:g} s "
                    "(AGENTS_TURN_TIMEOUT_SECONDS); try a simpler request, or send it with \"async\": true "
                    "where background turns are on.") from None
            if reply.stream is not None:
                reply.stream = self._releasing(reply.stream)
                released = True  # the stream gives the slot back when it ends
            return reply
        finally:
            if not released:
                self.slots.release()

    async def _releasing(self, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            async for chunk in stream:
                yield chunk
        finally:
            self.slots.release()
            await _close(stream)


def _scrubbed(reply: HttpReply) -> HttpReply:
    if not known_secrets():
        return reply
    reply.body = redact_bytes(reply.body)
    if reply.stream is not None:
        reply.stream = _scrubbed_stream(reply.stream)
    return reply


async def _scrubbed_stream(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for chunk in stream:
            yield redact_bytes(chunk)
    finally:
        await _close(stream)


async def _close(stream: AsyncIterator[bytes]) -> None:
    """Close a wrapped stream when its wrapper closes early (a client went away), so its cleanup runs now."""
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _with_user_id(body: bytes, user_id: str) -> bytes:
    """The chat body with ``user_id`` set to the signed-in principal; a body that is not a JSON object is left
    for the handler to reject."""
    data = _json_object(body)
    if data is None:
        return body
    data["user_id"] = user_id
    return json.dumps(data, ensure_ascii=False).encode("utf-8")
