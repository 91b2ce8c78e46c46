"""Hostile input over the whole HTTP surface, property-based: no request yields a 5xx, a stack trace, an
internal path or exception text, or a change to another user's session.

Each property sends real HTTP requests to the local host serving the surface app (standard, session, MCP and
A2A routes over a scripted model). Generation is random (a fresh seed each run, printed at the end and in a
failure's report; AGENTS_TEST_HOSTILE_SEED replays one) and bounded (AGENTS_TEST_HOSTILE_EXAMPLES per property,
40 by default) so CI stays fast; ``benchmarks/hostile_run.py`` is the long run. The tally of requests and 5xx
answers is printed at the end of the run.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, note, seed, settings
from hypothesis import strategies as st

from tests.security.conftest import TALLY, check_reply
from tests.security.hostile_inputs import (
    OWNED_SESSION,
    OWNER,
    SEED,
    chat_bodies,
    header_values,
    json_values,
    segments,
    session_ids,
)
from tests.servers.localhost import LocalHostProcess
from tests.servers.openai_server import OpenAIServer

SUITE = "hypothesis"
EXAMPLES = int(os.environ.get("AGENTS_TEST_HOSTILE_EXAMPLES") or 40)
_settings = settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def BOUNDED(test: Any) -> Any:
    """This run's seed and example budget (the seed is printed with any falsifying example)."""
    return seed(SEED)(_settings(test))

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


def _json(body: Any) -> dict[str, Any]:
    """Request arguments sending ``body`` as JSON with non-ASCII escaped (so a lone surrogate travels as the
    ``\\udXXX`` escape a hostile client would send; httpx's ``json=`` would refuse to encode it)."""
    return {"content": json.dumps(body).encode("ascii"), "headers": {"content-type": "application/json"}}


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
    note(f"hostile-input seed {SEED}: rerun with AGENTS_TEST_HOSTILE_SEED={SEED}")
    check_reply(client.post(_chat_url(host), content=body, headers={"content-type": "application/json"}), SUITE)


@BOUNDED
@given(body=json_values)
def test_any_json_value_as_a_body_of_every_post_route(client: httpx.Client, host: LocalHostProcess,
                                                      body: Any) -> None:
    note(f"hostile-input seed {SEED}: rerun with AGENTS_TEST_HOSTILE_SEED={SEED}")
    if isinstance(body, dict):
        body = _user(body)
    for path in ("/api/agents/Orders/chat", "/api/mcp", "/api/agents/Orders/a2a"):
        encoded = _json(body)
        encoded["headers"]["accept"] = "application/json, text/event-stream"
        check_reply(client.post(host.url + path, **encoded), SUITE)


@BOUNDED
@given(body=chat_bodies)
def test_chat_requests_with_wrong_types_and_hostile_values(client: httpx.Client, host: LocalHostProcess,
                                                           body: dict[str, Any]) -> None:
    note(f"hostile-input seed {SEED}: rerun with AGENTS_TEST_HOSTILE_SEED={SEED}")
    body = _user(body)
    body["stream"] = body.get("stream") if body.get("stream") is not True else False
    encoded = _json(body)
    encoded["headers"]["accept"] = "application/json"
    response = client.post(_chat_url(host), timeout=20, **encoded)
    check_reply(response, SUITE)
    if response.status_code == 200:
        assert response.json()["session_id"] != OWNED_SESSION or body.get("user_id") not in (None, "")


@BOUNDED
@given(agent=segments, session_id=session_ids, method=st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH"]))
def test_hostile_names_and_session_ids_in_paths(client: httpx.Client, host: LocalHostProcess, agent: str,
                                                session_id: str, method: str) -> None:
    note(f"hostile-input seed {SEED}: rerun with AGENTS_TEST_HOSTILE_SEED={SEED}")
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
    note(f"hostile-input seed {SEED}: rerun with AGENTS_TEST_HOSTILE_SEED={SEED}")
    for method, path, body in (("POST", "/api/agents/Orders/chat", {"message": "hi", "user_id": "mallory"}),
                               ("GET", f"/api/sessions/{OWNED_SESSION}/stream", None),
                               ("POST", "/api/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
                               ("POST", "/api/agents/Orders/a2a", {"jsonrpc": "2.0", "id": 1, "method": "x"})):
        if path.endswith("/stream"):
            # A resume stream may follow a live turn for a while: its status and headers are the answer.
            with client.stream(method, host.url + path, headers=values, timeout=20) as streamed:
                if streamed.status_code >= 400:
                    streamed.read()
                    check_reply(streamed, SUITE)
                else:
                    TALLY.record(SUITE, method, path, streamed.status_code)
                    assert streamed.headers["content-type"].startswith("text/event-stream")
            continue
        check_reply(client.request(method, host.url + path, json=body, headers=values, timeout=20), SUITE)


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


#: Every route of the surface app (routes.py STANDARD_ROUTES plus the A2A routes), with hostile fillers.
EVERY_ROUTE = ["/api/agents/{agent}/chat", "/api/agents/{agent}/info", "/api/agents", "/api/health",
               "/api/openapi.json", "/api/mcp", "/api/sessions/{session}", "/api/sessions/{session}/stream",
               "/api/sessions/{session}/turns/{turn}", "/api/agents/{agent}/a2a",
               "/api/agents/{agent}/.well-known/agent-card.json"]


@BOUNDED
@given(route=st.sampled_from(EVERY_ROUTE), agent=st.sampled_from(["Orders", "Admin"]) | segments,
       session_id=session_ids, method=st.sampled_from(["GET", "POST", "DELETE", "PUT"]),
       body=json_values | chat_bodies, user=st.sampled_from(["mallory", "", "owner"]) | st.text(max_size=20))
def test_every_route_with_hostile_bodies(client: httpx.Client, host: LocalHostProcess, route: str, agent: str,
                                          session_id: str, method: str, body: Any, user: str) -> None:
    note(f"hostile-input seed {SEED}: rerun with AGENTS_TEST_HOSTILE_SEED={SEED}")
    if isinstance(body, dict):
        body = _user(body)
        body["stream"] = False
    user = "mallory" if user == OWNER else user
    path = route.format(agent=quote(agent, safe=""), session=quote(session_id, safe="") or "x", turn="t-1")
    if path.endswith("/stream"):
        return  # covered with a bounded read in test_hostile_header_values
    encoded = _json(body)
    encoded["headers"]["accept"] = "application/json, text/event-stream"
    response = client.request(method, host.url + path, params={"user_id": user}, timeout=20, **encoded)
    check_reply(response, SUITE)
