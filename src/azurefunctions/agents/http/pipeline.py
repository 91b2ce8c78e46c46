"""The one way through the HTTP layer, for built-in routes and an app's own alike.

Each invocation passes, outside in: telemetry (the caller's trace, spans flushed before the host may freeze the
process; tracing.py), the guard (Entra ID, turn slot, message length, timeout, secret scrubbing; guard.py), the
method check, and the error boundary around the route's handler. The boundary is the only place an exception
becomes a reply: an ``AgentFrameworkError`` becomes the JSON error envelope with its status and code; anything
else is logged with its traceback and answered with a generic 500, so no exception text or stack reaches a
client.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from ..errors import INTERNAL_ERROR_MESSAGE, AgentFrameworkError, MethodNotAllowedError
from .calls import HttpCall, HttpReply, error_envelope, error_reply
from .guard import RouteGuard
from .routes import RouteSpec
from .tracing import traced

logger = logging.getLogger("azurefunctions.agents.http")

Handler = Callable[[HttpCall], Awaitable[HttpReply]]


def internal_error() -> HttpReply:
    return error_reply(500, AgentFrameworkError.code, INTERNAL_ERROR_MESSAGE)


def bounded(spec: RouteSpec, handler: Handler) -> Handler:
    """``handler`` behind the method check and the error boundary."""

    async def run(call: HttpCall) -> HttpReply:
        try:
            if call.method.upper() not in spec.methods:
                raise MethodNotAllowedError(call.method, spec.methods)
            return await handler(call)
        except AgentFrameworkError as exc:
            return error_envelope(exc)
        except Exception:
            logger.exception("%s %s failed", call.method, call.path)
            return internal_error()

    return run


def pipeline(spec: RouteSpec, handler: Handler, guard: RouteGuard) -> Handler:
    """The whole way through for one route: telemetry, guard, method check, error boundary, handler."""
    guarded = guard.wrap(spec, bounded(spec, handler))

    async def run(call: HttpCall) -> HttpReply:
        return await traced(call, guarded)

    return run
