"""Text the runtime cannot pass on faithfully is refused with a 400 naming the field, before any model call.

JSON can carry a lone UTF-16 surrogate (``"\\ud800"``) and Python's ``json`` keeps it, but it cannot be encoded as
UTF-8, so the provider's SDK would fail on it after the turn started (a 502 for the caller's mistake); NUL and
other C0 control characters are refused by model APIs and mangled downstream.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.servers.localhost import LocalHostProcess
from tests.servers.scripted import Reply, Script

from .test_http_routes import assert_error

BAD_TEXT = [
    pytest.param(b'{"message": "\\ud800"}', "message contains a lone UTF-16 surrogate U+D800 at position 0",
                 id="lone-high-surrogate"),
    pytest.param(b'{"message": "ok \\udfff"}', "message contains a lone UTF-16 surrogate U+DFFF at position 3",
                 id="lone-low-surrogate"),
    pytest.param(b'{"message": "a\\u0000b"}', "message contains the control character U+0000 at position 1",
                 id="nul"),
    pytest.param(b'{"message": "bell\\u0007"}', "message contains the control character U+0007",
                 id="bell"),
    pytest.param(b'{"message": "hi", "user_id": "u\\ud83d"}', "user_id contains a lone UTF-16 surrogate",
                 id="user-id-surrogate"),
    pytest.param(b'{"message": "hi", "context": {"note": ["x", "\\u001b[31m"]}}',
                 "context.note[1] contains the control character U+001B", id="context-escape"),
]


@pytest.mark.parametrize(("body", "fragment"), BAD_TEXT)
def test_invalid_text_is_400_naming_the_field(host: LocalHostProcess, script: Script, body: bytes,
                                              fragment: str) -> None:
    response = httpx.post(f"{host.url}/api/agents/Greeter/chat", content=body,
                          headers={"content-type": "application/json"}, timeout=30)
    error = assert_error(response, 400, "invalid_request")
    assert fragment in error["error"]["message"]
    assert script.calls == 0


def test_invalid_text_on_the_stream_route_is_400(host: LocalHostProcess, script: Script) -> None:
    response = httpx.post(f"{host.url}/api/agents/Greeter/chat", content=b'{"message": "\\ud800"}',
                          headers={"content-type": "application/json", "accept": "text/event-stream"}, timeout=30)
    assert response.status_code == 400, response.text
    assert "message contains a lone UTF-16 surrogate" in response.text
    assert script.calls == 0


def test_valid_unicode_tabs_and_newlines_pass(host: LocalHostProcess, script: Script) -> None:
    script.add(Reply(text="fine"))
    text = "tab\there\r\nline two: \U0001f600 \u00e9\u0301 \u202e"
    response = httpx.post(f"{host.url}/api/agents/Greeter/chat", json={"message": text}, timeout=30)
    assert response.status_code == 200, response.text
    assert script.requests[-1]["messages"][-1]["content"] == text


def test_a_surrogate_pair_is_one_valid_character(host: LocalHostProcess, script: Script) -> None:
    script.add(Reply(text="fine"))
    response = httpx.post(f"{host.url}/api/agents/Greeter/chat", content=b'{"message": "\\ud83d\\ude00"}',
                          headers={"content-type": "application/json"}, timeout=30)
    assert response.status_code == 200, response.text
    assert script.requests[-1]["messages"][-1]["content"] == "\U0001f600"


def test_invalid_text_in_an_mcp_tool_call_is_refused_before_the_model(host: LocalHostProcess,
                                                                      script: Script) -> None:
    # The MCP SDK parses the body with pydantic-core, which refuses a lone surrogate escape as invalid JSON
    # (mcp/server/streamable_http.py, StreamableHTTPServerTransport._handle_post_request): a JSON-RPC parse
    # error in a 400, before any tool runs. A control character reaches the tool, which names the field.
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "Greeter", "arguments": {"message": "\ud800"}}}
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    response = httpx.post(f"{host.url}/api/mcp", content=json.dumps(call).encode(), timeout=30, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == -32700
    call["params"]["arguments"] = {"message": "a\u0000b"}  # type: ignore[index]
    response = httpx.post(f"{host.url}/api/mcp", content=json.dumps(call).encode(), timeout=30, headers=headers)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["isError"] is True
    assert "message contains the control character U+0000" in result["content"][0]["text"]
    assert script.calls == 0
