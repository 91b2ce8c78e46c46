"""For an app's own HTTP routes: one turn's handoff flow as JSON, and the error for bad input.

The handoff samples' demo routes (``/api/weather-swarm``, ``/api/travel-coordinator-demo``,
``/api/customer-service-demo``) are written with these, as ``@app.agent_route`` handlers: errors raised here
become the app's JSON error envelope there.

The flow comes from the Runner's event stream (``runner.run_stream``), so it shows every hop with the reason it
was taken, in order, next to the ``handoff_path``, each agent's contribution and the final answer.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..errors import AgentFrameworkError, InvalidRequestError
from ..events import HandoffOccurred, TurnCompleted, TurnFailed

if TYPE_CHECKING:
    from ..runner import Runner
    from .app_routes import AppRequest


class BadRequest(InvalidRequestError):
    """Input the demo route cannot use: a 400 with ``code`` and a message that says what to send."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


def read_object(req: AppRequest) -> dict[str, Any]:
    """The request body as a JSON object, or ``BadRequest``."""
    try:
        body = json.loads(req.body or b"null")
    except (ValueError, RecursionError):
        raise BadRequest("invalid_json", "The body must be JSON, e.g. {\"message\": \"...\"}.") from None
    if not isinstance(body, dict):
        raise BadRequest("invalid_request", "The body must be a JSON object, e.g. {\"message\": \"...\"}.")
    return body


async def run_flow(runner: Runner, request: dict[str, Any]) -> dict[str, Any]:
    """Run one turn: its flow report. A failed turn raises its error (400 for invalid input), which the
    pipeline answers with the error envelope."""
    hops: list[dict[str, Any]] = []
    async for event in runner.run_stream(request):
        if isinstance(event, HandoffOccurred):
            hops.append({"from": event.from_agent, "to": event.to_agent, "reason": event.reason})
        elif isinstance(event, TurnFailed):
            raise AgentFrameworkError(event.message, code=event.code, status=event.status or 500)
        elif isinstance(event, TurnCompleted):
            response = event.response
            data = response.to_dict()
            return {
                "entry_agent": runner.agent.name,
                "final_agent": response.agent,
                "answer": response.response,
                "handoff_path": response.handoff_path,
                "handoffs": hops,
                "contributions": data.get("contributions") or [{"agent": response.agent,
                                                                 "response": response.response}],
                "handoff_stopped": data.get("handoff_stopped"),
                "tool_calls": [{"agent": c.agent, "name": c.name, "arguments": c.arguments, "result": c.result,
                                "is_error": c.is_error} for c in response.tool_calls],
                "session_id": response.session_id,
            }
    raise AgentFrameworkError("The turn ended without a result; see the app's log.")
