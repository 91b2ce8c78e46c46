"""The playground as an app's own route: off unless the app turns it on, and then behind the app's auth
(function keys with the local host's ``--enable-auth``, as the platform checks them; Entra ID like any route).
Also background turns from the page, against Azurite's queues and the local host's queue triggers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import azure.functions as func
import httpx
import pytest

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.http.auth import EntraAuth
from azurefunctions.agents.localhost.context import LocalContext
from azurefunctions.agents.types import LLMConfig
from tests.playground.conftest import missing
from tests.servers.azurite import AzuriteQueues
from tests.servers.localhost import LocalHostProcess, app_env
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, Script, ScriptedToolCall

APP = Path(__file__).parent / "apps" / "desk"
KEY = "playground-test-function-key"


@pytest.fixture(scope="module")
def azurite() -> Iterator[AzuriteQueues]:
    reason = AzuriteQueues.available()
    if reason is not None:
        missing(reason)
    with AzuriteQueues() as server:
        yield server


@pytest.fixture(scope="module")
def host(model: OpenAIServer, azurite: AzuriteQueues,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    env = {**app_env(tmp_path_factory.mktemp("desk"), model), "AzureWebJobsStorage": azurite.connection_string,
           "AGENTS_WORK_QUEUE": "playground-turns", "AGENTS_LOCAL_QUEUE_POLL_SECONDS": "0.5",
           "AGENTS_LOCAL_FUNCTION_KEY": KEY}
    with LocalHostProcess(APP, env=env, enable_auth=True) as host:
        yield host


def _routes(app: AgentFunctionApp) -> dict[str, Any]:
    return {f.get_function_name(): f.get_trigger() for f in app.get_functions()
            if type(f.get_trigger()).__name__ == "HttpTrigger"}


def _agent() -> Agent:
    return Agent(name="Greeter", instructions="Greet.", llm_config=LLMConfig(provider="offline"))


def test_off_unless_the_app_turns_it_on() -> None:
    assert "playground" not in _routes(AgentFunctionApp(agents=[_agent()]))
    routes = _routes(AgentFunctionApp(agents=[_agent()], playground=True))
    page = routes["playground"]
    # Beside the agents list (under host.json's prefix, "api" by default: /api/playground), so the page finds
    # the API from its own URL.
    assert (page.route, routes["agents_list"].route) == ("playground", "agents")
    assert page.auth_level == routes["agents_list"].auth_level == func.AuthLevel.FUNCTION


def test_entra_protects_the_page_like_any_route(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    app = AgentFunctionApp(agents=[_agent()], playground=True,
                           auth=EntraAuth(tenant_id="11111111-2222-3333-4444-555555555555",
                                          audiences=["api://playground"]))
    page = next(f for f in app.get_functions() if f.get_function_name() == "playground").get_user_function()
    request = func.HttpRequest(method="GET", url="https://app.example/api/playground", headers={}, body=b"")
    # Called as the worker calls it, on a loop of its own thread (Playwright's sync API owns this thread's loop).
    with ThreadPoolExecutor(1) as pool:
        reply = pool.submit(asyncio.run, page(request, LocalContext("playground", "."))).result(timeout=30)
    assert reply.status_code == 401
    assert reply.mimetype == "application/json"
    assert b"<html" not in reply.get_body()


def test_key_required_on_the_app_route(host: LocalHostProcess) -> None:
    denied = httpx.get(f"{host.url}/api/playground", timeout=10)
    assert denied.status_code == 401
    assert denied.json()["error"]["code"] == "unauthorized"
    served = httpx.get(f"{host.url}/api/playground", params={"code": KEY}, timeout=10)
    assert served.status_code == 200 and served.headers["content-type"] == "text/html; charset=utf-8"
    assert '<meta name="agents-api-base" content="">' in served.text  # the page derives it from its URL
    assert httpx.post(f"{host.url}/api/playground", params={"code": KEY}, timeout=10).status_code == 405


def test_page_on_the_app_route_uses_the_key_from_its_url(host: LocalHostProcess, script: Script,
                                                         page: Any) -> None:
    script.add(Reply(tool_calls=[ScriptedToolCall("order_status", {"order_id": "A-1001"})]),
               Reply(text="Your order A-1001 arrives Thursday."))
    page.goto(f"{host.url}/api/playground?code={KEY}")
    page.get_by_text("Answers questions about orders.").wait_for()
    page.get_by_label("Message", exact=True).fill("Where is order A-1001?")
    page.get_by_role("button", name="Send").click()
    page.locator(".bubble.agent .text", has_text="arrives Thursday").wait_for()
    assert page.locator(".tool-card[data-tool=order_status] .tool-result").inner_text().startswith("Order A-1001")


def test_local_page_asks_for_the_key(host: LocalHostProcess, page: Any) -> None:
    page.goto(f"{host.url}/playground")
    status = page.locator("#app-status")
    status.filter(has_text="unauthorized").wait_for()
    assert "Enter the function key" in status.inner_text()
    page.get_by_text("Function key", exact=True).click()
    page.get_by_label("Key sent as x-functions-key").fill(KEY)
    page.keyboard.press("Tab")
    status.filter(has_text="1 agent").wait_for()
    assert page.get_by_label("Agent").input_value() == "Desk"


def test_background_turn_shows_its_status_until_done(host: LocalHostProcess, script: Script,
                                                     page: Any, screenshot: Any) -> None:
    script.add(Reply(tool_calls=[ScriptedToolCall("order_status", {"order_id": "B-7"})], delay=2.5),
               Reply(text="Order B-7 arrives Thursday."))
    page.goto(f"{host.url}/api/playground?code={KEY}")
    page.get_by_text("Answers questions about orders.").wait_for()
    page.get_by_label("Background turn").check()
    page.get_by_label("Message", exact=True).fill("Where is B-7?")
    page.get_by_role("button", name="Send").click()
    status = page.locator(".background-status")
    status.filter(has_text="Background turn: running").wait_for()
    assert page.get_by_role("button", name="Send").is_enabled()  # free for the next message meanwhile
    screenshot(page, "playground-background.png")
    page.reload()  # the page follows the turn again after a reload
    page.locator(".bubble.agent .text", has_text="Order B-7 arrives Thursday.").wait_for()
    assert page.locator(".background-status").inner_text().startswith("Background turn: completed")
    assert page.locator(".tool-card[data-tool=order_status] .tool-state").inner_text() == "done"
    assert page.get_by_role("button", name="Cancel turn").is_hidden()
    page.reload()  # a finished background turn keeps its last status
    page.locator(".background-status", has_text="Background turn: completed").wait_for()
    assert page.get_by_role("button", name="Cancel turn").is_hidden()


def test_background_turn_can_be_cancelled(host: LocalHostProcess, script: Script, page: Any) -> None:
    script.add(Reply(text="Too late.", delay=8))
    page.goto(f"{host.url}/api/playground?code={KEY}")
    page.get_by_text("Answers questions about orders.").wait_for()
    page.get_by_label("Background turn").check()
    page.get_by_label("Message", exact=True).fill("Take your time")
    page.get_by_role("button", name="Send").click()
    page.locator(".background-status", has_text="Background turn:").wait_for()
    page.get_by_role("button", name="Cancel turn").click()
    page.get_by_text("The turn was cancelled.").wait_for()
    assert page.locator(".background-status").inner_text().startswith("Background turn: cancelled")
    assert page.locator(".bubble.agent").count() == 0
