"""The caller sample and the A2A sample as two local host processes: the caller's agent asks the remote
UnitConverter over A2A (a2a-sdk client, function key required by the remote) and quotes its answer."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.servers.localhost import LocalHostProcess

from azurefunctions.agents.a2a.remote import RemoteA2AAgent

SAMPLE = Path(__file__).resolve().parents[1]
REMOTE_SAMPLE = SAMPLE.parent / "a2a"
OFFLINE = {"OPENAI_API_KEY": "", "AZURE_OPENAI_ENDPOINT": "", "AGENT_PROVIDER": ""}
ASK = "Ask the unit converter to convert 30 degrees Celsius to Fahrenheit"


@pytest.fixture(scope="module")
def remote_key() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory, remote_key: str) -> Iterator[LocalHostProcess]:
    """samples/a2a, requiring function keys as in Azure."""
    env = {**OFFLINE, "AGENTS_SESSION_DB": str(tmp_path_factory.mktemp("remote") / "sessions.sqlite3"),
           "AGENTS_LOCAL_FUNCTION_KEY": remote_key}
    with LocalHostProcess(REMOTE_SAMPLE, env=env, enable_auth=True) as host:
        yield host


def caller(tmp_path: Path, remote: LocalHostProcess, key: str) -> LocalHostProcess:
    env = {**OFFLINE, "AGENTS_SESSION_DB": str(tmp_path / "sessions.sqlite3"),
           "A2A_REMOTE_AGENT_URL": f"{remote.url}/api/agents/UnitConverter", "A2A_REMOTE_AGENT_KEY": key}
    return LocalHostProcess(SAMPLE, env=env)


def test_the_assistant_quotes_the_remote_agent(tmp_path: Path, remote: LocalHostProcess, remote_key: str) -> None:
    with caller(tmp_path, remote, remote_key) as host:
        info = httpx.get(f"{host.url}/api/agents/Assistant/info", timeout=30).json()
        reply = httpx.post(f"{host.url}/api/agents/Assistant/chat", json={"message": ASK}, timeout=60).json()
        again = httpx.post(f"{host.url}/api/agents/Assistant/chat", timeout=60, json={
            "message": "Ask the unit converter to convert 100 km to miles", "session_id": reply["session_id"]}).json()
    assert info["name"] == "Assistant"
    assert reply["status"] == "success", reply
    assert reply["response"] == ("[offline model] unit_converter returned: [offline model] celsius_to_fahrenheit "
                                 "returned: 30 °C is 86.0 °F")
    assert again["response"] == ("[offline model] unit_converter returned: [offline model] kilometres_to_miles "
                                 "returned: 100 km is 62.14 miles")
    # Both questions of the local session went to one remote conversation (its context is a remote session).
    context = RemoteA2AAgent(f"{remote.url}/api/agents/UnitConverter", name="x").context_id(reply["session_id"])
    session = httpx.get(f"{remote.url}/api/sessions/{context}", headers={"x-functions-key": remote_key},
                        timeout=30).json()
    assert [m["content"] for m in session["messages"] if m["role"] == "user"] == [
        "convert 30 degrees Celsius to Fahrenheit", "convert 100 km to miles"]


def test_a_wrong_key_is_a_tool_error_the_assistant_reports(tmp_path: Path, remote: LocalHostProcess) -> None:
    with caller(tmp_path, remote, "not-the-key") as host:
        reply = httpx.post(f"{host.url}/api/agents/Assistant/chat", json={"message": ASK}, timeout=60).json()
    assert reply["status"] == "success"  # the local turn goes on; the model hears what went wrong
    assert reply["response"] == (
        "[offline model] unit_converter returned: The remote agent unit_converter did not answer: the call failed "
        "(HTTP 401; the remote app wants credentials: check the headers (its key)).")
