"""A canary secret planted everywhere a secret can pass through appears in no response and no log line.

The canary is the model API key the app is configured with (``LLMConfig(api_key=...)``); it also comes back in
a tool argument, in a tool's exception, in a provider error that echoes the key, and in a user's message.
A second canary travels in request headers and the query string, which the app must neither echo nor log.
The local host runs with ``--log-level debug`` so every logger, the SDKs' included, is heard.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from azurefunctions.agents import redaction
from tests.security.conftest import SURFACE_APP
from tests.servers.base import LocalServer
from tests.servers.localhost import LocalHostProcess
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall

CANARY = f"canary-key-{uuid.uuid4().hex}"
HEADER_CANARY = f"canary-header-{uuid.uuid4().hex}"


class EchoingProvider(LocalServer):
    """A model endpoint that refuses the key and quotes it back in its error, as careless APIs do."""

    def __init__(self) -> None:
        async def refuse(request: Request) -> JSONResponse:
            key = request.headers.get("authorization", "")
            return JSONResponse({"error": {"message": f"Incorrect API key provided: {key}", "type": "invalid",
                                           "code": "invalid_api_key", "param": key}}, status_code=401)

        super().__init__(Starlette(routes=[Route("/v1/chat/completions", refuse, methods=["POST"])]))


@pytest.fixture(scope="module")
def canary_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalHostProcess, OpenAIServer]]:
    tmp = tmp_path_factory.mktemp("canary")
    with OpenAIServer(api_key=CANARY) as model, EchoingProvider() as echo:
        env = {"SECURITY_MODEL_KEY": CANARY, "SECURITY_MODEL_BASE_URL": model.base_url,
               "SECURITY_ECHO_BASE_URL": f"{echo.url}/v1", "SECURITY_TOOL_LOG": str(tmp / "tools.jsonl"),
               "AGENTS_SESSION_DB": str(tmp / "s.sqlite3")}
        with LocalHostProcess(SURFACE_APP, env=env, extra_args=["--log-level", "debug"]) as host:
            yield host, model


def test_the_canary_appears_in_no_response_and_no_log(canary_host: tuple[LocalHostProcess, OpenAIServer]) -> None:
    host, model = canary_host
    replies: list[httpx.Response] = []
    headers = {"authorization": f"Bearer {HEADER_CANARY}", "x-functions-key": HEADER_CANARY,
               "cookie": f"session={HEADER_CANARY}", "x-api-key": HEADER_CANARY,
               "x-ms-client-principal": base64.b64encode(HEADER_CANARY.encode()).decode()}
    with httpx.Client(base_url=host.url, headers=headers, params={"code": HEADER_CANARY}, timeout=20) as client:
        # The configured key in use: a normal turn with a tool call.
        model.script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "A1"})]), Reply(text="Shipped."))
        replies.append(client.post("/api/agents/Orders/chat", json={"message": "where is A1?", "user_id": "u1",
                                                                     "session_id": "canary-session"}))
        # The key smuggled into a tool argument, and raised back in the tool's exception (logged with traceback).
        model.script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"code": f"fail:{CANARY}"})]),
                         Reply(text=f"Your key is {CANARY}"))
        replies.append(client.post("/api/agents/Orders/chat", json={"message": "leak it", "user_id": "u1",
                                                                     "session_id": "canary-session"}))
        # A user who pastes the key, then reads the session back, also streamed.
        replies.append(client.post("/api/agents/Orders/chat", json={"message": f"my key: {CANARY}", "user_id": "u1",
                                                                     "session_id": "canary-session"}))
        replies.append(client.get("/api/sessions/canary-session", params={"user_id": "u1"}))
        model.script.add(Reply(text=f"streamed {CANARY}"))
        replies.append(client.post("/api/agents/Orders/chat", json={"message": "stream", "stream": True}))
        # A provider error that quotes the key back.
        replies.append(client.post("/api/agents/Echo/chat", json={"message": "hi"}))
        # Everything else on the surface, for good measure.
        replies.append(client.post("/api/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "Orders", "arguments": {"message": f"key {CANARY}"}}},
            headers={"accept": "application/json, text/event-stream"}))
        replies.append(client.get("/api/agents/Orders/info"))
        replies.append(client.get("/api/openapi.json"))
        replies.append(client.post("/api/agents/Orders/chat", content=b"{bad json " + CANARY.encode()))
    assert replies[0].status_code == 200 and replies[0].json()["response"] == "Shipped."
    assert replies[1].json()["tool_calls"][0]["is_error"] is True
    assert replies[5].status_code == 502 and replies[5].json()["error"]["code"] == "provider_authentication_failed"
    for reply in replies:
        everything = reply.text + " ".join(f"{k}: {v}" for k, v in reply.headers.items())
        assert CANARY not in everything, f"{reply.request.url.path}: {reply.text[:300]}"
        assert HEADER_CANARY not in everything, f"{reply.request.url.path}: {reply.text[:300]}"
    log = host.output
    assert "tool lookup raised" in log and "Traceback" in log  # the tool's failure was logged in full...
    assert redaction.REDACTED in log  # ...with the key taken out
    assert CANARY not in log and HEADER_CANARY not in log


# The redaction functions on their own ----------------------------------------------------------------------
def test_secret_shapes_are_redacted_whatever_their_value() -> None:
    samples = {
        "Authorization: Bearer abc.def.ghi": "Authorization: Bearer [redacted]",
        "x-functions-key=abcdef123456": "x-functions-key=[redacted]",
        "GET /api/x?code=abc123&y=1": "GET /api/x?code=[redacted]&y=1",
        "api_key='sk-proj-abcdefghijklmnopqrstuvwxyz'": "api_key='[redacted]'",
        "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl end": "token [redacted] end",
        "AccountKey=Zm9vYmFy==;EndpointSuffix=core": "AccountKey=[redacted];EndpointSuffix=core",
    }
    for text, expected in samples.items():
        assert redaction.redact(text) == expected
    assert redaction.redact("error code: invalid_request, input_tokens: 11") == \
        "error code: invalid_request, input_tokens: 11"


def test_known_values_are_redacted_in_logs_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    secret = f"known-{uuid.uuid4().hex}"
    redaction.register_secret(secret)
    redaction.register_secret("short")  # too short to be treated as a secret
    redaction.install_log_redaction()
    redaction.install_log_redaction()  # idempotent
    logger = logging.getLogger("tests.security.redaction")
    with caplog.at_level(logging.INFO, logger="tests.security.redaction"):
        logger.info("configured with %s and short", secret)
        try:
            raise ValueError(f"provider said {secret}")
        except ValueError:
            logger.exception("call failed")
    text = caplog.text
    assert secret not in text and "configured with [redacted] and short" in text
    assert "ValueError: provider said [redacted]" in text
    assert redaction.redact_bytes(f"x{secret}y".encode()) == b"x[redacted]y"
