"""How the app learns host.json's routePrefix and what it registers for it (docs/routes.md).

The rules encoded here come from the platform's source: the host reads ``extensions.http.routePrefix`` from the
script root's host.json, ``api`` when missing (azure-functions-host ``WebFunctionsManager.GetRoutePrefix``), and
serves ``<prefix>/<route>`` (azure-webjobs-sdk-extensions ``WebJobsRouteBuilder.BuildRouteTemplate``); the
Python worker imports ``function_app.py`` from that script root (azure-functions-python-worker
``Dispatcher.load_function_metadata``, ``loader.index_function_app``).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.errors import ConfigurationError
from azurefunctions.agents.http.calls import HttpCall
from azurefunctions.agents.http.hostjson import discover_route_prefix, read_route_prefix
from azurefunctions.agents.http.routes import function_route, public_path
from azurefunctions.agents.sessions.memory import MemorySessionStore
from azurefunctions.agents.types import LLMConfig


@pytest.mark.parametrize(("route", "prefix", "registered", "served"), [
    ("api/agents/{agent_name}/chat", "api", "agents/{agent_name}/chat", "/api/agents/{agent_name}/chat"),
    ("api/agents/{agent_name}/chat", "", "api/agents/{agent_name}/chat", "/api/agents/{agent_name}/chat"),
    ("api/agents/{agent_name}/chat", "v1", "agents/{agent_name}/chat", "/v1/agents/{agent_name}/chat"),
    ("api/health", "api/v2", "health", "/api/v2/health"),
    (".well-known/agent-card.json", "", ".well-known/agent-card.json", "/.well-known/agent-card.json"),
    (".well-known/agent-card.json", "api", None, None),
])
def test_each_documented_path_is_served_once_under_the_prefix(route: str, prefix: str, registered: str | None,
                                                              served: str | None) -> None:
    assert function_route(route, prefix) == registered
    assert public_path(route, prefix) == served


def write_host(folder: Path, host: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "host.json").write_text(host if isinstance(host, str) else json.dumps(host), encoding="utf-8")
    return folder


@pytest.mark.parametrize(("host", "prefix"), [
    ({"version": "2.0"}, "api"),
    ({"version": "2.0", "extensions": {"http": {}}}, "api"),
    ({"version": "2.0", "extensions": {"http": {"routePrefix": ""}}}, ""),
    ({"version": "2.0", "extensions": {"http": {"routePrefix": "/v1/"}}}, "v1"),
])
def test_host_json_prefix_as_the_host_reads_it(tmp_path: Path, host: object, prefix: str) -> None:
    assert read_route_prefix(write_host(tmp_path, host)) == prefix


def test_no_host_json_is_not_a_prefix_and_a_broken_one_is_named(tmp_path: Path) -> None:
    assert read_route_prefix(tmp_path) is None
    write_host(tmp_path / "bad", "{not json")
    with pytest.raises(ConfigurationError, match=r"bad/host\.json is not valid JSON"):
        read_route_prefix(tmp_path / "bad")
    write_host(tmp_path / "typed", {"extensions": {"http": {"routePrefix": 5}}})
    with pytest.raises(ConfigurationError, match="routePrefix must be a string"):
        read_route_prefix(tmp_path / "typed")


def test_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHON_SCRIPT_FILE_NAME", raising=False)
    monkeypatch.delenv("AzureWebJobsScriptRoot", raising=False)
    monkeypatch.delitem(sys.modules, "function_app", raising=False)
    monkeypatch.chdir(tmp_path)
    assert discover_route_prefix(None).value == "api"  # nothing anywhere: the platform's default

    write_host(tmp_path, {"extensions": {"http": {"routePrefix": "cwd"}}})
    assert discover_route_prefix(None).value == "cwd"

    root = write_host(tmp_path / "root", {"extensions": {"http": {"routePrefix": "root"}}})
    monkeypatch.setenv("AzureWebJobsScriptRoot", str(root))
    assert discover_route_prefix(None).value == "root"

    script_dir = write_host(tmp_path / "script", {"extensions": {"http": {"routePrefix": "script"}}})
    module = types.ModuleType("function_app")
    module.__file__ = str(script_dir / "function_app.py")
    monkeypatch.setitem(sys.modules, "function_app", module)
    assert discover_route_prefix(None).value == "script"

    caller_dir = write_host(tmp_path / "caller", {"extensions": {"http": {"routePrefix": ""}}})
    found = discover_route_prefix(str(caller_dir / "agents.py"))
    assert (found.value, found.source) == ("", str(caller_dir / "host.json"))
    # A caller folder without host.json (a helper module) falls through to the script's folder.
    assert discover_route_prefix(str(tmp_path / "elsewhere" / "helper.py")).value == "script"


def test_an_app_built_in_a_folder_with_host_json_uses_its_prefix(tmp_path: Path) -> None:
    folder = write_host(tmp_path / "project", {"version": "2.0", "extensions": {"http": {"routePrefix": "v1"}}})
    (folder / "built_here.py").write_text(
        "from azurefunctions.agents import Agent, AgentFunctionApp\n"
        "from azurefunctions.agents.types import LLMConfig\n"
        "app = AgentFunctionApp(agents=[Agent(name='A', llm_config=LLMConfig(provider='offline'))])\n",
        encoding="utf-8")
    spec = importlib.util.spec_from_file_location("built_here", folder / "built_here.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = module.app
    assert (app.route_prefix, app.route_prefix_source.source) == ("v1", str(folder / "host.json"))
    routes = {f.get_function_name(): f.get_trigger().route for f in app.get_functions()}
    assert routes["agents_chat"] == "agents/{agent_name}/chat" and routes["health"] == "health"


async def test_an_alias_never_shadows_the_apps_own_routes() -> None:
    # Whichever route the host tries first, /api/sessions/info is the session "info", not an agent "sessions".
    agents = [Agent(name=name, llm_config=LLMConfig(provider="offline")) for name in ("sessions", "Weather")]
    app = AgentFunctionApp(agents=agents, create_triggers=False, session_store=MemorySessionStore(),
                           route_prefix="api")
    alias = next(s for s in app.route_specs if s.name == "agent_info_alias")
    reply = await app.api.dispatch(alias, HttpCall(method="GET", path="/api/sessions/info", headers={}, query={},
                                                   route_params={"agent_name": "sessions"}))
    assert reply.status == 404 and json.loads(reply.body)["error"]["code"] == "session_not_found"
    # The OpenAPI description offers the alias only to the other agent; an app with no such agent has none.
    document = app._openapi(HttpCall("GET", "/api/openapi.json", {}, {}, {}))
    parameter = document["paths"]["/api/{agent_name}/info"]["get"]["parameters"][0]
    assert parameter["schema"]["enum"] == ["Weather"]
    await app.aclose()
    alone = AgentFunctionApp(agents=agents[:1], create_triggers=False, session_store=MemorySessionStore())
    assert not any(spec.deprecated for spec in alone.route_specs)
    await alone.aclose()


def test_an_alias_that_would_shadow_the_apps_own_route_is_left_out() -> None:
    # The host registers routes in function-name order (FunctionMetadataManager sorts by name), so the alias
    # "{agent_name}/chat" would answer before the app's own "weather/chat": it is not registered.
    import azure.functions as func

    app = AgentFunctionApp(agents=[Agent(name="A", llm_config=LLMConfig(provider="offline"))],
                           session_store=MemorySessionStore(), route_prefix="api")

    @app.route(route="weather/chat", methods=["POST"])
    def weather_chat(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("own")

    names = {f.get_function_name() for f in app.get_functions()}
    assert "weather_chat" in names and "agent_info_alias" in names
    assert "agent_chat_alias" not in names
    document = app._openapi(HttpCall("GET", "/api/openapi.json", {}, {}, {}))
    assert "/api/{agent_name}/chat" not in document["paths"] and "/api/{agent_name}/info" in document["paths"]


async def test_under_another_prefix_a2a_cards_point_at_it_and_there_is_no_root_card() -> None:
    from azurefunctions.agents import AgentMode

    app = AgentFunctionApp(agents=[Agent(name="A", llm_config=LLMConfig(provider="offline"))], mode=AgentMode.A2A,
                           create_triggers=False, session_store=MemorySessionStore(), route_prefix="v1")
    assert app.a2a is not None
    assert not any(spec.route.startswith(".well-known") for spec in app.route_specs)
    card_spec = next(s for s in app.route_specs if s.name == "a2a_agent_card")
    reply = await app.a2a.dispatch(card_spec, HttpCall("GET", "/v1/agents/A/.well-known/agent-card.json", {}, {},
                                                       {"agent_name": "A"}, base_url="https://x.example"))
    assert json.loads(reply.body)["supportedInterfaces"][0]["url"] == "https://x.example/v1/agents/A/a2a"
    document = app._openapi(HttpCall("GET", "/v1/openapi.json", {}, {}, {}))
    assert "/v1/agents/{agent_name}/a2a" in document["paths"]
    assert not any(path.startswith("/.well-known") for path in document["paths"])
    await app.aclose()


async def test_an_alias_for_an_unknown_name_of_any_characters_is_a_clean_404() -> None:
    app = AgentFunctionApp(agents=[Agent(name="A", llm_config=LLMConfig(provider="offline"))],
                           create_triggers=False, session_store=MemorySessionStore(), route_prefix="api")
    alias = next(s for s in app.route_specs if s.name == "agent_chat_alias")
    name = "\u0097\u00f2 x"
    reply = await app.api.dispatch(alias, HttpCall("POST", "/api/x/chat", {}, {}, {"agent_name": name},
                                                   body=b'{"message": "hi"}'))
    assert reply.status == 404 and json.loads(reply.body)["error"]["code"] == "agent_not_found"
    assert reply.headers["Link"] == '</api/agents/%C2%97%C3%B2%20x/chat>; rel="successor-version"'
    reply.headers["Link"].encode("latin-1")  # a valid header value
    await app.aclose()
