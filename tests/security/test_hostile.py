"""Hostile input over the whole HTTP surface, property-based: no request yields a 5xx, a stack trace, an
internal path or exception text, or a change to another user's session.

Each property sends real HTTP requests to the local host serving the surface app (standard, session, MCP and
A2A routes over a scripted model). Example counts are bounded so the suite runs in seconds; the tally of
requests and 5xx answers is printed at the end of the run.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.conftest import check_reply
from tests.servers.localhost import LocalHostProcess
from tests.servers.openai_server import OpenAIServer

SUITE = "hypothesis"
BOUNDED = settings(max_examples=25, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
OWNER = f"owner-{uuid.uuid4().hex}"
OWNED_SESSION = f"owned-{uuid.uuid4().hex[:12]}"

NASTY_SEGMENTS = ["..", "../..", "../../etc/passwd", "..%2f..%2fetc%2fpasswd", "%2e%2e", "\\..\\..\\windows",
                  "Orders/../Admin", "Orders%00", "Orders\x00", "con", "a" * 300, "<script>", "'; DROP TABLE s;--",
                  "${jndi:ldap://x}", "{{7*7}}", "%0d%0aSet-Cookie:x=1", "\r\nX-Injected: 1", "\u202eOrders",
                  "Órders", "🙂", "Orders ", " ", "~", "$(id)", "`id`", "/etc/passwd", "C:\\Windows"]

json_leaves = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
               | st.text(max_size=40))
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=16)
segments = st.sampled_from(NASTY_SEGMENTS) | st.text(min_size=1, max_size=40)
session_ids = st.sampled_from([OWNED_SESSION, *NASTY_SEGMENTS]) | st.text(max_size=80)
chat_bodies = st.fixed_dictionaries({}, optional={
    "message": json_values | st.text(max_size=200) | st.sampled_from(NASTY_SEGMENTS),
    "user_id": json_values | st.text(max_size=300),
    "session_id": json_values | session_ids,
    "conversation_id": json_values | session_ids,
    "context": json_values,
    "stream": json_values,
    "async": json_values,
})
header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=120).map(str.strip)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """One connection pool for the suite (a new client per request costs tens of milliseconds)."""
    with httpx.Client(timeout=20) as shared:
        yield shared


@pytest.fixture(scope="module")
def host(surface: LocalHostProcess, model: OpenAIServer) -> Iterator[LocalHostProcess]:
    """The surface host with one session owned by OWNER, which no hostile request may change."""
    created = httpx.post(f"{surface.url}/api/agents/Orders/chat",
                         json={"message": "my private order", "user_id": OWNER, "session_id": OWNED_SESSION})
    assert created.status_code == 200, created.text
    before = _owned(surface)
    yield surface
    assert _owned(surface) == before, "a hostile request changed another user's session"


def _owned(host: LocalHostProcess) -> dict[str, Any]:
    response = httpx.get(f"{host.url}/api/sessions/{OWNED_SESSION}", params={"user_id": OWNER})
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def _chat_url(host: LocalHostProcess, agent: str = "Orders") -> str:
    return f"{host.url}/api/agents/{quote(agent, safe='')}/chat"


def _user(body: dict[str, Any]) -> dict[str, Any]:
    """Hostile requests never speak as the owner (who may legitimately change their own session)."""
    if body.get("user_id") == OWNER:
        body["user_id"] = "mallory"
    return body


@BOUNDED
@given(body=st.binary(max_size=2048))
def test_arbitrary_bytes_as_a_chat_body(client: httpx.Client, host: LocalHostProcess, body: bytes) -> None:
    check_reply(client.post(_chat_url(host), content=body, headers={"content-type": "application/json"}), SUITE)


@BOUNDED
@given(body=json_values)
def test_any_json_value_as_a_body_of_every_post_route(client: httpx.Client, host: LocalHostProcess,
                                                      body: Any) -> None:
    if isinstance(body, dict):
        body = _user(body)
    for path in ("/api/agents/Orders/chat", "/api/mcp", "/api/agents/Orders/a2a"):
        check_reply(client.post(host.url + path, json=body,
                               headers={"accept": "application/json, text/event-stream"}), SUITE)


@BOUNDED
@given(body=chat_bodies)
def test_chat_requests_with_wrong_types_and_hostile_values(client: httpx.Client, host: LocalHostProcess,
                                                           body: dict[str, Any]) -> None:
    body = _user(body)
    body["stream"] = body.get("stream") if body.get("stream") is not True else False
    response = client.post(_chat_url(host), json=body, headers={"accept": "application/json"}, timeout=20)
    check_reply(response, SUITE)
    if response.status_code == 200:
        assert response.json()["session_id"] != OWNED_SESSION or body.get("user_id") not in (None, "")


@BOUNDED
@given(agent=segments, session_id=session_ids, method=st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH"]))
def test_hostile_names_and_session_ids_in_paths(client: httpx.Client, host: LocalHostProcess, agent: str,
                                                session_id: str, method: str) -> None:
    session = quote(session_id, safe="") or "x"
    name = quote(agent, safe="")
    for path in (f"/api/agents/{name}/chat", f"/api/agents/{name}/info", f"/api/agents/{name}/a2a",
                 f"/api/agents/{name}/.well-known/agent-card.json", f"/api/sessions/{session}",
                 f"/api/sessions/{session}/stream", f"/api/sessions/{session}/turns/{name}"):
        response = client.request(method, host.url + path, params={"user_id": "mallory", "after": session_id},
                                 json={"message": "hi", "session_id": session_id}, timeout=20)
        check_reply(response, SUITE)
        assert "x-injected" not in response.headers and "set-cookie" not in response.headers


@BOUNDED
@given(values=st.fixed_dictionaries({}, optional={
    name: header_values for name in ("accept", "content-type", "traceparent", "tracestate", "last-event-id",
                                     "prefer", "a2a-version", "mcp-protocol-version", "mcp-session-id",
                                     "x-ms-client-principal", "x-ms-client-principal-id", "x-forwarded-host",
                                     "x-functions-key", "authorization")}))
def test_hostile_header_values(client: httpx.Client, host: LocalHostProcess, values: dict[str, str]) -> None:
    for method, path, body in (("POST", "/api/agents/Orders/chat", {"message": "hi", "user_id": "mallory"}),
                               ("GET", f"/api/sessions/{OWNED_SESSION}/stream", None),
                               ("POST", "/api/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
                               ("POST", "/api/agents/Orders/a2a", {"jsonrpc": "2.0", "id": 1, "method": "x"})):
        try:
            response = client.request(method, host.url + path, json=body, headers=values, timeout=20)
        except httpx.ReadTimeout:  # a resume stream that follows a live turn may wait; it must not fail
            continue
        check_reply(response, SUITE)


def _raw(host: LocalHostProcess, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", host.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def test_header_injection_over_a_raw_socket_is_refused(host: LocalHostProcess) -> None:
    for injected in (b"X-Test: a\r\nX-Injected: 1", b"X-Test: a\r\n b", b"X-Test: a\rX-Injected: 1",
                     b"X-Test: \xff\xfe", b"X-\xff: 1"):
        answer = _raw(host, b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + injected +
                      b"\r\nConnection: close\r\n\r\n")
        status_line, _, rest = answer.partition(b"\r\n")
        assert int(status_line.split()[1]) < 500
        headers = rest.split(b"\r\n\r\n", 1)[0].lower()
        assert b"x-injected" not in headers and b"x-test" not in headers


def test_malformed_oversized_and_deeply_nested_bodies(client: httpx.Client, host: LocalHostProcess) -> None:
    bodies = [b'{"message": "\xff\xfe\xfd"}', b"\xef\xbb\xbf{\"message\": \"bom\"}", b'{"message": "hi"',
              b'{"message": "hi"}}', b"[" * 100_000, b'{"a":' * 50_000, b"{" + b'"k":1,' * 10_000 + b'"message":"x"}',
              b'{"message": "' + b"\\ud800" + b'"}', b'{"message": NaN}', b'{"message": 1e999}',
              b'{"message": "hi", "message": {"x": 1}}', b"\x00" * 100, b"null", b"[]", b"\"hi\"",
              b" " * 70_000, b'{"message": "' + b"a" * 70_000 + b'"}']
    for depth in (10, 500, 900, 990, 1000, 5000):
        bodies.append(json.dumps({"message": "nested", "context": _nested(depth)}).encode()
                      if depth < 990 else b'{"message": "nested", "context": ' + b'{"a":' * depth + b"1" +
                      b"}" * depth + b"}")
    for body in bodies:
        for path in ("/api/agents/Orders/chat", "/api/mcp", "/api/agents/Orders/a2a"):
            response = client.post(host.url + path, content=body, timeout=30,
                                  headers={"content-type": "application/json",
                                           "accept": "application/json, text/event-stream"})
            check_reply(response, SUITE)
            if len(body) > 65536 and path.endswith("/a2a"):  # A2A answers in JSON-RPC, at HTTP 200
                assert response.json()["error"]["code"] == -32600 and "too large" in response.text
            elif len(body) > 65536:
                assert response.status_code == 413, (path, response.text[:200])


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def test_wrong_methods_and_unknown_routes(client: httpx.Client, host: LocalHostProcess) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE"):
        for path in ("/api/agents/Orders/chat", "/api/mcp", "/api/health", "/api/nothing", "/api/agents/Orders/a2a",
                     f"/api/sessions/{OWNED_SESSION}"):
            response = client.request(method, host.url + path)
            check_reply(response, SUITE)
            if "chat" in path or path.endswith("/a2a"):
                assert response.status_code in (404, 405), (method, path, response.status_code)
