"""An app's own HTTP routes (``@app.agent_route``) through the same pipeline as the built-in ones.

A route written with ``func.FunctionApp.route`` gets the raw request and nothing else: no Entra ID check, no turn
slot or timeout, no secret scrubbing, no error boundary, no telemetry flush. ``agent_route`` gives an app's own
route all of them (pipeline.py), and hands the handler an ``AppRequest`` whose ``user_id`` is the signed-in
caller when the app uses Entra ID, never what the body claims.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..errors import InvalidRequestError, PayloadTooLargeError
from ..http.calls import HttpCall, HttpReply, json_reply

#: What an app route's handler may return: a reply, or a JSON value answered with 200.
AppResult = HttpReply | Mapping[str, Any] | list[Any]
AppHandler = Callable[["AppRequest"], Awaitable[AppResult]]


class AppRequest:
    """The request an ``@app.agent_route`` handler gets, after the pipeline's checks.

    ``user_id`` is the caller the app may trust: with Entra ID (``AgentFunctionApp(auth=...)``) the signed-in
    principal's object id, whatever the body or query say; without it, the ``user_id`` the caller sent (body,
    then query), as on the built-in chat route, where function keys decide who may call at all.
    """

    def __init__(self, call: HttpCall, *, max_body_bytes: int) -> None:
        self.call = call
        self._max_body_bytes = max_body_bytes
        self._json: dict[str, Any] | None = None

    @property
    def method(self) -> str:
        return self.call.method.upper()

    @property
    def path(self) -> str:
        return self.call.path

    @property
    def headers(self) -> Mapping[str, str]:
        return self.call.headers

    @property
    def query(self) -> Mapping[str, str]:
        return self.call.query

    @property
    def route_params(self) -> Mapping[str, str]:
        return self.call.route_params

    @property
    def body(self) -> bytes:
        return self.call.body

    def header(self, name: str) -> str | None:
        return self.call.header(name)

    @property
    def user_id(self) -> str | None:
        if self.call.principal_id is not None:
            return self.call.principal_id
        stated = self.json().get("user_id") if self.call.body.strip() and self._is_object() else None
        if isinstance(stated, str) and stated:
            return stated
        return self.call.query.get("user_id") or None

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; ``InvalidRequestError`` (400) or ``PayloadTooLargeError`` (413)."""
        if self._json is None:
            self._json = _json_object(self.call.body, self._max_body_bytes)
        return self._json

    def _is_object(self) -> bool:
        try:
            self.json()
        except (InvalidRequestError, PayloadTooLargeError):
            return False
        return True


def _json_object(body: bytes, max_body_bytes: int) -> dict[str, Any]:
    if len(body) > max_body_bytes:
        raise PayloadTooLargeError(f"The request body is larger than {max_body_bytes} bytes.")
    try:
        data = json.loads(body.decode("utf-8")) if body.strip() else None
    except UnicodeDecodeError:
        raise InvalidRequestError("The request body must be UTF-8 encoded JSON.") from None
    except (ValueError, RecursionError):
        raise InvalidRequestError('The request body is not valid JSON; send an object such as {"message": "..."}.'
                                  ) from None
    if not isinstance(data, dict):
        raise InvalidRequestError('The request body must be a JSON object such as {"message": "..."}.')
    return data


def app_handler(handler: AppHandler, *, max_body_bytes: int) -> Callable[[HttpCall], Awaitable[HttpReply]]:
    """The pipeline handler that calls an app's ``handler`` and answers what it returns."""

    async def run(call: HttpCall) -> HttpReply:
        result = await handler(AppRequest(call, max_body_bytes=max_body_bytes))
        return result if isinstance(result, HttpReply) else json_reply(result)

    return run
