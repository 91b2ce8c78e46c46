"""For an app's own HTTP routes: one turn's handoff flow as JSON, and the error envelope for bad input.

The handoff samples' demo routes (``/api/weather-swarm``, ``/api/travel-coordinator-demo``,
``/api/customer-service-demo``) are written with these.

The flow comes from the Runner's event stream (``runner.run_stream``), so it shows every hop with the reason it
was taken, in order, next to the ``handoff_path``, each agent's contribution and the final answer. Errors use
the same ``{"error": {"code", "message"}}`` body as the app's standard routes.
"""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

from ..events import HandoffOccurred, TurnCompleted, TurnFailed
from ..runner import Runner


class BadRequest(Exception):
    """Input the demo route cannot use; becomes a 400 with ``code`` and a message that says what to send."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def json_response(data: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(data, ensure_ascii=False), status_code=status,
                             mimetype="application/json", charset="utf-8")


def error_response(status: int, code: str, message: str) -> func.HttpResponse:
    return json_response({"error": {"code": code, "message": message}}, status)


def read_object(req: func.HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object, or ``BadRequest``."""
    try:
        body = json.loads(req.get_body() or b"null")
    except ValueError:
        raise BadRequest("invalid_json", "The body must be JSON, e.g. {\"message\": \"...\"}.") from None
    if not isinstance(body, dict):
        raise BadRequest("invalid_request", "The body must be a JSON object, e.g. {\"message\": \"...\"}.")
    return body


async def run_flow(runner: Runner, request: dict[str, Any]) -> dict[str, Any] | func.HttpResponse:
    """Run one turn: its flow report, or the error response of a failed turn (400 for invalid input)."""
    hops: list[dict[str, Any]] = []
    async for event in runner.run_stream(request):
        if isinstance(event, HandoffOccurred):
            hops.append({"from": event.from_agent, "to": event.to_agent, "reason": event.reason})
        elif isinstance(event, TurnFailed):
            return error_response(event.status or 500, event.code, event.message)
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
    return error_response(500, "internal_error", "The turn ended without a result; see the app's log.")
