"""Function keys per auth level, through the local host with ``--enable-auth`` (as the platform checks them).

The levels app: chat, MCP and A2A RPC at the app's level (FUNCTION), sessions at ADMIN, info at ANONYMOUS;
health, openapi.json and the agent cards are always anonymous.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.security.conftest import LEVELS_APP
from tests.servers.localhost import LocalHostProcess

FUNCTION_KEY = "levels-function-key-7f3a"
MASTER_KEY = "levels-master-key-91c2"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    env = {"AGENTS_LOCAL_FUNCTION_KEY": FUNCTION_KEY, "AGENTS_LOCAL_MASTER_KEY": MASTER_KEY,
           "AGENTS_SESSION_DB": str(tmp_path_factory.mktemp("levels") / "s.sqlite3")}
    with LocalHostProcess(LEVELS_APP, env=env, enable_auth=True) as process:
        yield process


def _denied(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert FUNCTION_KEY not in response.text and MASTER_KEY not in response.text


def test_anonymous_routes_need_no_key(host: LocalHostProcess) -> None:
    for path in ("/api/health", "/api/openapi.json", "/api/agents", "/api/agents/Greeter/info",
                 "/.well-known/agent-card.json", "/api/agents/Greeter/.well-known/agent-card.json"):
        assert httpx.get(host.url + path).status_code == 200, path


def test_function_routes_take_the_function_or_the_master_key(host: LocalHostProcess) -> None:
    chat = f"{host.url}/api/agents/Greeter/chat"
    _denied(httpx.post(chat, json={"message": "hi"}))
    _denied(httpx.post(chat, json={"message": "hi"}, headers={"x-functions-key": FUNCTION_KEY[:-1]}))
    _denied(httpx.post(chat, json={"message": "hi"}, params={"code": ""}))
    assert httpx.post(chat, json={"message": "hi"}, headers={"x-functions-key": FUNCTION_KEY}).status_code == 200
    assert httpx.post(chat, json={"message": "hi"}, params={"code": FUNCTION_KEY}).status_code == 200
    assert httpx.post(chat, json={"message": "hi"}, headers={"x-functions-key": MASTER_KEY}).status_code == 200
    rpc = {"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": "nope"}}
    _denied(httpx.post(f"{host.url}/api/agents/Greeter/a2a", json=rpc))
    _denied(httpx.post(f"{host.url}/api/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
    mcp = httpx.post(f"{host.url}/api/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                     headers={"x-functions-key": FUNCTION_KEY, "accept": "application/json, text/event-stream"})
    assert mcp.status_code == 200


def test_admin_routes_take_only_the_master_key(host: LocalHostProcess) -> None:
    chat = httpx.post(f"{host.url}/api/agents/Greeter/chat", json={"message": "hi", "user_id": "ann"},
                      headers={"x-functions-key": FUNCTION_KEY})
    session = f"{host.url}/api/sessions/{chat.json()['session_id']}"
    _denied(httpx.get(session, params={"user_id": "ann"}))
    _denied(httpx.get(session, params={"user_id": "ann"}, headers={"x-functions-key": FUNCTION_KEY}))
    owned = httpx.get(session, params={"user_id": "ann", "code": MASTER_KEY})
    assert owned.status_code == 200 and owned.json()["user_id"] == "ann"


def test_the_openapi_description_states_each_level(host: LocalHostProcess) -> None:
    document = httpx.get(f"{host.url}/api/openapi.json").json()
    paths = document["paths"]
    assert paths["/api/health"]["get"]["security"] == []
    assert paths["/api/agents/{agent_name}/info"]["get"]["security"] == []
    assert "security" not in paths["/api/agents/{agent_name}/chat"]["post"]  # the document's default: a key
    assert {"functionKey": []} in document["security"]
