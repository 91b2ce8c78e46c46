"""The registered functions as the Python worker sees them, without any host: ``app.get_functions()``."""

from __future__ import annotations

import json
import typing

import azure.functions as func
import pytest
from openapi_spec_validator import validate

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.http.routes import STANDARD_ROUTES
from azurefunctions.agents.localhost.context import LocalContext
from azurefunctions.agents.types import LLMConfig


def make_app(**kwargs: object) -> AgentFunctionApp:
    agent = Agent(name="Echo", instructions="Echo.", llm_config=LLMConfig(provider="offline"))
    return AgentFunctionApp(agents={"Echo": agent}, **kwargs)  # type: ignore[arg-type]


def http_functions(app: AgentFunctionApp) -> dict[str, func.decorators.core.Function]:  # type: ignore[name-defined]
    return {f.get_function_name(): f for f in app.get_functions()}


def test_triggers_have_the_documented_routes_and_auth_levels() -> None:
    # No host.json beside this file or in the working directory: the platform's prefix "api" goes before every
    # registered route (WebJobsRouteBuilder.BuildRouteTemplate), so the routes are registered without it.
    app = make_app()
    assert app.route_prefix == "api"
    functions = http_functions(app)
    routes = {name: (f.get_trigger().route, f.get_trigger().auth_level) for name, f in functions.items()}
    assert routes == {
        "agents_chat": ("agents/{agent_name}/chat", func.AuthLevel.FUNCTION),
        "agents_info": ("agents/{agent_name}/info", func.AuthLevel.FUNCTION),
        "agents_list": ("agents", func.AuthLevel.FUNCTION),
        "health": ("health", func.AuthLevel.ANONYMOUS),
        "openapi": ("openapi.json", func.AuthLevel.ANONYMOUS),
        "sessions_item": ("sessions/{session_id}", func.AuthLevel.FUNCTION),
        "mcp": ("mcp", func.AuthLevel.FUNCTION),
        "sessions_stream": ("sessions/{session_id}/stream", func.AuthLevel.FUNCTION),
        "sessions_turn": ("sessions/{session_id}/turns/{turn_id}", func.AuthLevel.FUNCTION),
        "sessions_turn_approvals": ("sessions/{session_id}/turns/{turn_id}/approvals", func.AuthLevel.FUNCTION),
        "agent_chat_alias": ("{agent_name}/chat", func.AuthLevel.FUNCTION),
        "agent_info_alias": ("{agent_name}/info", func.AuthLevel.FUNCTION),
    }
    # The aliases come last: the platform tries routes in registration order.
    assert list(functions)[-2:] == ["agent_chat_alias", "agent_info_alias"]
    for function in functions.values():
        trigger = function.get_trigger()
        assert trigger.name == "req"
        hints = typing.get_type_hints(function.get_user_function())
        assert hints["req"] is func.HttpRequest and hints["context"] is func.Context  # what the worker checks
        assert {m.value for m in trigger.methods} == {"GET", "POST", "PUT", "PATCH", "DELETE"}
        assert json.loads(function.get_function_json())["bindings"][0]["type"] == "httpTrigger"


async def test_user_functions_answer_a_worker_style_request() -> None:
    functions = http_functions(make_app())
    chat = functions["agents_chat"].get_user_function()
    request = func.HttpRequest(method="POST", url="http://localhost/api/agents/Echo/chat",
                               headers={"content-type": "application/json"}, route_params={"agent_name": "Echo"},
                               body=json.dumps({"message": "hello there"}).encode())
    response = await chat(request, LocalContext("agents_chat", "."))
    assert isinstance(response, func.HttpResponse)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert json.loads(response.get_body())["response"].startswith("[offline model] You said: hello there")
    health = await functions["health"].get_user_function()(
        func.HttpRequest(method="GET", url="http://localhost/api/health", body=b""), LocalContext("health", "."))
    assert json.loads(health.get_body())["status"] == "healthy"
    bad = await chat(func.HttpRequest(method="POST", url="http://localhost/api/agents/Echo/chat",
                                      route_params={"agent_name": "Echo"}, body=b"nope"), LocalContext("c", "."))
    assert bad.status_code == 400 and json.loads(bad.get_body())["error"]["code"] == "invalid_request"


async def test_openapi_lists_exactly_the_registered_routes_and_is_valid() -> None:
    app = make_app()
    functions = http_functions(app)
    reply = await functions["openapi"].get_user_function()(
        func.HttpRequest(method="GET", url="http://localhost:7071/api/openapi.json", body=b""),
        LocalContext("openapi", "."))
    document = json.loads(reply.get_body())
    validate(document)
    documented = {path for path in document["paths"]}
    registered = {"/api/" + f.get_trigger().route for f in functions.values()}  # the default prefix "api"
    assert documented == registered
    for spec in STANDARD_ROUTES:
        assert set(document["paths"]["/" + spec.route]) == {m.lower() for m in spec.methods}
    assert document["paths"]["/api/health"]["get"]["security"] == []
    assert "security" not in document["paths"]["/api/agents/{agent_name}/chat"]["post"]
    assert document["servers"] == [{"url": "http://localhost:7071"}]


def test_create_triggers_false_registers_nothing_but_keeps_runners() -> None:
    app = make_app(create_triggers=False)
    assert app.get_functions() == []
    assert app.runners["Echo"].run_sync("hi").status == "success"


def test_auth_levels_can_be_set_per_app_and_per_group() -> None:
    app = make_app(http_auth_level="anonymous", auth_levels={"chat": "admin"})
    levels = {name: f.get_trigger().auth_level for name, f in http_functions(app).items()}
    assert levels["agents_chat"] == func.AuthLevel.ADMIN
    assert levels["agents_list"] == func.AuthLevel.ANONYMOUS
    with pytest.raises(ValueError, match="unknown route group 'bogus'"):
        make_app(auth_levels={"bogus": "admin"})


def test_agents_as_a_list_and_bad_agents() -> None:
    a = Agent(name="A", llm_config=LLMConfig(provider="offline"))
    b = Agent(name="B", llm_config=LLMConfig(provider="offline"))
    app = AgentFunctionApp(agents=[a, b], create_triggers=False)
    assert list(app.runners) == ["A", "B"]
    with pytest.raises(ValueError, match="two agents are named 'A'"):
        AgentFunctionApp(agents=[a, a], create_triggers=False)
    with pytest.raises(TypeError, match="must be Agent instances"):
        AgentFunctionApp(agents={"x": "not an agent"}, create_triggers=False)  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="needs agents"):
        AgentFunctionApp(create_triggers=False)
