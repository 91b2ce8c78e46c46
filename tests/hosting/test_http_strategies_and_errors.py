"""Over real HTTP through the local host: the handoff strategies (FIRST_MATCH, ROUND_ROBIN, a SEQUENTIAL chain
with CONTINUE_CHAIN), the tool-call limit per model answer, and the 500/502/409 error codes a user can meet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers.localhost import LocalHostProcess
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, Script, ScriptedToolCall

from .test_http_routes import assert_error

APP = Path(__file__).parent / "apps" / "strategies"
TOOL_LIMIT = 2


@pytest.fixture(scope="module")
def host(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    env = {"OPENAI_API_KEY": model.api_key, "OPENAI_BASE_URL": model.base_url,
           "AGENTS_SESSION_DB": str(tmp_path_factory.mktemp("strategies") / "sessions.sqlite3"),
           "AGENTS_MAX_TOOL_CALLS_PER_MODEL_TURN": str(TOOL_LIMIT)}
    with LocalHostProcess(APP, env=env) as process:
        yield process


def chat(host: LocalHostProcess, agent: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{host.url}/api/agents/{agent}/chat", json=body, timeout=30)


def systems(script: Script) -> list[str]:
    return [str(r["messages"][0]["content"]) for r in script.requests]


def test_first_match_routes_by_condition_without_a_router_model_call(host: LocalHostProcess,
                                                                     script: Script) -> None:
    script.add_for("Billing agent", Reply(text="Your invoice is paid."))
    script.add_for("Support agent", Reply(text="Try turning it off and on."))
    invoice = chat(host, "FirstMatch", {"message": "Where is my invoice?"})
    assert invoice.status_code == 200, invoice.text
    assert invoice.json()["response"] == "Your invoice is paid."
    assert invoice.json()["agent"] == "Billing" and invoice.json()["handoff_path"] == ["FirstMatch", "Billing"]
    other = chat(host, "FirstMatch", {"message": "My screen is dark"})
    assert other.json()["response"] == "Try turning it off and on."
    assert other.json()["handoff_path"] == ["FirstMatch", "Support"]
    assert not any(s.startswith("FirstMatch") for s in systems(script))  # the router's model never ran


def test_round_robin_takes_the_targets_in_turn(host: LocalHostProcess, script: Script) -> None:
    script.add_for("Billing agent", Reply(text="billing"), Reply(text="billing again"))
    script.add_for("Support agent", Reply(text="support"))
    answered = [chat(host, "RoundRobin", {"message": f"question {n}"}).json()["agent"] for n in range(3)]
    assert answered == ["Billing", "Support", "Billing"]
    assert not any(s.startswith("RoundRobin") for s in systems(script))


def test_a_sequential_chain_continues_with_each_answer(host: LocalHostProcess, script: Script) -> None:
    script.add_for("Drafter", Reply(text="draft text"))
    script.add_for("Editor", Reply(text="edited text"))
    script.add_for("Translator", Reply(text="texte traduit"))
    response = chat(host, "Drafter", {"message": "Write a note"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response"] == "texte traduit" and body["agent"] == "Translator"
    assert body["handoff_path"] == ["Drafter", "Editor", "Translator"]
    inputs = {str(r["messages"][0]["content"]).split(":")[0]: r["messages"][-1]["content"] for r in script.requests}
    assert inputs == {"Drafter": "Write a note", "Editor": "draft text", "Translator": "edited text"}


def test_tool_calls_beyond_the_limit_are_refused_to_the_model(host: LocalHostProcess, script: Script) -> None:
    calls = [ScriptedToolCall("lookup", {"code": f"C{n}"}) for n in range(TOOL_LIMIT + 1)]
    script.add(Reply(tool_calls=calls), Reply(text="Two of three looked up."))
    response = chat(host, "Orders", {"message": "look up three orders"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response"] == "Two of three looked up."
    reported = [(c["arguments"]["code"], c["is_error"]) for c in body["tool_calls"]]
    assert reported == [("C0", False), ("C1", False), ("C2", True)]  # the third was not run
    assert body["tool_calls"][2]["result"].startswith(f"Not run: at most {TOOL_LIMIT} tool calls")
    tool_results = [m for m in script.requests[-1]["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in tool_results[:TOOL_LIMIT]] == ["order C0 shipped", "order C1 shipped"]
    assert tool_results[TOOL_LIMIT]["content"].startswith(f"Not run: at most {TOOL_LIMIT} tool calls")
    assert "AGENTS_MAX_TOOL_CALLS_PER_MODEL_TURN" in tool_results[TOOL_LIMIT]["content"]


def test_an_unexpected_failure_is_500_internal_error_without_details(host: LocalHostProcess,
                                                                     script: Script) -> None:
    response = chat(host, "Support", {"message": "hi", "session_id": "broken-1"})
    body = assert_error(response, 500, "internal_error")
    assert "disk on fire" not in response.text and "secret-path" not in response.text
    assert "the error was logged" in body["error"]["message"]
    assert "disk on fire" in host.output  # the operator sees the cause in the log
    assert script.calls == 0


def test_a_lost_race_is_409_session_busy(host: LocalHostProcess, script: Script) -> None:
    script.add(Reply(text="an answer nobody keeps"))
    response = chat(host, "Support", {"message": "hi", "session_id": "raced-1"})
    body = assert_error(response, 409, "session_busy")
    assert "retry" in body["error"]["message"]


def test_a_misconfigured_model_is_500_configuration_error(model: OpenAIServer, tmp_path: Path) -> None:
    # No model settings at all for an OpenAI-configured agent: the operator's mistake, named, no trace.
    env = {"AGENTS_SESSION_DB": str(tmp_path / "sessions.sqlite3"), "AGENT_PROVIDER": "azure_openai"}
    with LocalHostProcess(APP, env=env) as host:
        response = chat(host, "Support", {"message": "hi"})
        body = assert_error(response, 500, "configuration_error")
        assert "AZURE_OPENAI_ENDPOINT" in body["error"]["message"]


def test_an_unreachable_key_vault_is_502_key_vault_unavailable(tmp_path: Path) -> None:
    # The provider key is to come from Key Vault (no OPENAI_API_KEY), read with the managed identity; the vault
    # address answers nothing (a closed port on loopback).
    from tests.servers.base import free_port
    from tests.servers.identity import IdentityServer

    with IdentityServer() as identity:
        env = {"AGENTS_SESSION_DB": str(tmp_path / "sessions.sqlite3"), **identity.env, "AGENT_PROVIDER": "openai",
               "AZURE_KEY_VAULT_ENDPOINT": f"https://127.0.0.1:{free_port()}/"}
        with LocalHostProcess(APP, env=env) as host:
            response = httpx.post(f"{host.url}/api/agents/Support/chat", json={"message": "hi"}, timeout=120)
            body = assert_error(response, 502, "key_vault_unavailable")
            # It names the secret it was reading, never a key or the exception text.
            assert body["error"]["message"].startswith("Key Vault could not be reached")
            assert "openai-api-key" in body["error"]["message"]
