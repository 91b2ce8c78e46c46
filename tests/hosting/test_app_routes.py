"""``AgentFunctionApp.agent_route``: an app's own route registered with the app's auth levels and served through
the built-in routes' pipeline (error boundary, method check, turn slot), while ``app.route`` stays the raw
platform decorator. The handlers are called as the Python worker calls them: ``(req, context)``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import azure.functions as func
import pytest

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.errors import InvalidRequestError
from azurefunctions.agents.hosting.app_routes import AppRequest
from azurefunctions.agents.http.calls import HttpReply
from azurefunctions.agents.localhost.context import LocalContext
from azurefunctions.agents.types import LLMConfig


def _app(**kwargs: Any) -> AgentFunctionApp:
    agent = Agent(name="Greeter", instructions="Greet.", llm_config=LLMConfig(provider="offline"))
    return AgentFunctionApp(agents=[agent], route_prefix="api", **kwargs)


_INDEXED: list[tuple[AgentFunctionApp, dict[str, Any]]] = []


def _function(app: AgentFunctionApp, name: str) -> Any:
    """The indexed function, as the worker indexes the app: once (a second ``get_functions`` is refused)."""
    indexed = next((functions for known, functions in _INDEXED if known is app), None)
    if indexed is None:
        indexed = {f.get_function_name(): f for f in app.get_functions()}
        _INDEXED.append((app, indexed))
    return indexed[name]


def _call(app: AgentFunctionApp, name: str, method: str = "POST", body: bytes = b"{}",
          params: dict[str, str] | None = None) -> func.HttpResponse:
    handler = _function(app, name).get_user_function()
    request = func.HttpRequest(method=method, url=f"https://app.example/api/{name}", headers={}, body=body,
                               params=params or {})
    response: func.HttpResponse = asyncio.run(handler(request, LocalContext(name, ".")))
    return response


def test_registered_like_a_built_in_route_with_the_apps_auth_level() -> None:
    app = _app()

    @app.agent_route("reports/daily", methods=["get", "POST"])
    async def daily(req: AppRequest) -> dict[str, Any]:
        """A daily report."""
        return {"ok": True}

    @app.agent_route("status", methods=["GET"], group="health")
    async def status(req: AppRequest) -> dict[str, Any]:
        return {"ok": True}

    trigger = _function(app, "daily").get_trigger()
    assert trigger.route == "reports/daily"
    assert trigger.auth_level == func.AuthLevel.FUNCTION == _function(app, "agents_chat").get_trigger().auth_level
    assert _function(app, "status").get_trigger().auth_level == func.AuthLevel.ANONYMOUS
    assert [(s.name, s.methods, s.summary) for s in app.app_routes] == [
        ("daily", ("GET", "POST"), "A daily report."), ("status", ("GET",), "")]


def test_answers_json_and_the_callers_user_id() -> None:
    app = _app()

    @app.agent_route("whoami")
    async def whoami(req: AppRequest) -> dict[str, Any]:
        return {"user_id": req.user_id, "body": req.json()}

    response = _call(app, "whoami", body=b'{"user_id": "ana", "n": 1}')
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert json.loads(response.get_body()) == {"user_id": "ana", "body": {"user_id": "ana", "n": 1}}


def test_errors_become_the_envelope_and_nothing_internal_leaks() -> None:
    app = _app()

    @app.agent_route("boom")
    async def boom(req: AppRequest) -> HttpReply:
        if req.json().get("bad"):
            raise InvalidRequestError("bad must not be set")
        raise RuntimeError("connection string AccountKey=abc123 in /work/app/function_app.py")

    refused = _call(app, "boom", body=b'{"bad": true}')
    assert refused.status_code == 400
    assert json.loads(refused.get_body()) == {"error": {"code": "invalid_request", "message": "bad must not be set"}}
    failed = _call(app, "boom")
    assert failed.status_code == 500
    assert json.loads(failed.get_body()) == {
        "error": {"code": "internal_error", "message": "The request failed; the error was logged."}}
    not_json = _call(app, "boom", body=b"{nope")
    assert not_json.status_code == 400 and json.loads(not_json.get_body())["error"]["code"] == "invalid_request"
    wrong_method = _call(app, "boom", method="DELETE")
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"


def test_a_turn_route_takes_a_slot_of_the_turn_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTS_MAX_CONCURRENT_TURNS", "1")
    app = _app()
    seen: list[int] = []

    @app.agent_route("busy")
    async def busy(req: AppRequest) -> dict[str, Any]:
        seen.append(app.guard.slots.in_use)
        return {}

    @app.agent_route("page", methods=["GET"], group="info")
    async def page(req: AppRequest) -> dict[str, Any]:
        seen.append(app.guard.slots.in_use)
        return {}

    assert _call(app, "busy").status_code == 200
    assert _call(app, "page", method="GET").status_code == 200
    assert seen == [1, 0]  # the chat group's route held the one slot; the info route held none
    app.guard.slots.acquire()  # the instance is now full
    refused = _call(app, "busy")
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    assert json.loads(refused.get_body())["error"]["code"] == "too_busy"


def test_wrong_arguments_are_named() -> None:
    app = _app()
    with pytest.raises(ValueError, match="unknown route group 'admin'"):
        app.agent_route("x", group="admin")
    with pytest.raises(ValueError, match="methods must be some of"):
        app.agent_route("x", methods=["TRACE"])


def test_app_route_stays_the_raw_platform_decorator() -> None:
    app = _app()

    @app.route(route="raw", methods=["POST"])
    def raw(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("raw", status_code=200)

    user_function = _function(app, "raw").get_user_function()
    request = func.HttpRequest(method="POST", url="https://app.example/api/raw", headers={}, body=b"")
    assert user_function(request).get_body() == b"raw"  # called as written: no pipeline in between
    assert app.app_routes == []
