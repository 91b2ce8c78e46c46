"""``serve --enable-auth`` enforces function keys as the platform does; without it nothing is checked."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.hosting.conftest import BASIC_APP
from tests.servers.localhost import LocalHostProcess


@pytest.fixture(scope="module")
def secured() -> Iterator[LocalHostProcess]:
    env = {"AGENT_PROVIDER": "offline", "AGENTS_LOCAL_FUNCTION_KEY": "fn-key-123",
           "AGENTS_LOCAL_MASTER_KEY": "master-key-456"}
    with LocalHostProcess(BASIC_APP, env=env, enable_auth=True) as process:
        yield process


def test_chat_without_a_key_is_401_and_with_a_key_200(secured: LocalHostProcess) -> None:
    url = f"{secured.url}/api/agents/Greeter/chat"
    denied = httpx.post(url, json={"message": "hi"})
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "unauthorized"
    assert httpx.post(url, json={"message": "hi"}, headers={"x-functions-key": "wrong"}).status_code == 401
    assert httpx.post(url, json={"message": "hi"}, headers={"x-functions-key": "fn-key-123"}).status_code == 200
    assert httpx.post(url, params={"code": "fn-key-123"}, json={"message": "hi"}).status_code == 200
    assert httpx.post(url, json={"message": "hi"}, headers={"x-functions-key": "master-key-456"}).status_code == 200


def test_anonymous_routes_need_no_key(secured: LocalHostProcess) -> None:
    assert httpx.get(f"{secured.url}/api/health").status_code == 200
    assert httpx.get(f"{secured.url}/api/openapi.json").status_code == 200
    assert httpx.get(f"{secured.url}/api/agents").status_code == 401


def test_generated_keys_are_printed_when_none_are_configured() -> None:
    with LocalHostProcess(BASIC_APP, env={"AGENT_PROVIDER": "offline"}, enable_auth=True) as process:
        line = next(line for line in process.output.splitlines() if line.startswith("Function key"))
        key = line.split(": ", 1)[1]
        ok = httpx.post(f"{process.url}/api/agents/Greeter/chat", json={"message": "hi"},
                        headers={"x-functions-key": key})
        assert ok.status_code == 200
