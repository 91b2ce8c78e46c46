"""The demo route ``POST /api/weather-swarm`` (``@app.agent_route``) passes the same pipeline as the built-in
chat route: Entra ID with the caller's principal (a forged ``X-MS-CLIENT-PRINCIPAL`` is refused exactly as on
``/api/agents/{name}/chat``), the message-length limit, secret scrubbing and the JSON error envelope.

The local host stands in for App Service Authentication as in tests/security/test_entra.py: with
``WEBSITE_AUTH_ENABLED=True`` the identity headers a test sends are what the platform would have passed on;
with it off, the same headers are forged (http/auth.py ``EntraAuth.authenticate``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.servers.localhost import LocalHostProcess, app_env
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, Script

from azurefunctions.agents.http.auth import encode_principal

SAMPLE = Path(__file__).resolve().parents[1]
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
AUDIENCE = "api://weather-swarm"
ALICE = "0a11ce00-0000-4000-8000-000000000001"
BOB = "0b0b0000-0000-4000-8000-000000000002"
OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
TID = "http://schemas.microsoft.com/identity/claims/tenantid"
DEMO, CHAT = "/api/weather-swarm", "/api/agents/weather/chat"
WEATHER = "You are the weather"


def principal(oid: str = ALICE, tenant: str = TENANT) -> dict[str, str]:
    claims = [(OID, oid), (TID, tenant), ("aud", AUDIENCE), ("name", "Test User")]
    return {"x-ms-client-principal": encode_principal(claims), "x-ms-client-principal-id": oid,
            "x-ms-client-principal-idp": "aad"}


def entra_env(tmp: Path, model: OpenAIServer, platform_auth: bool) -> dict[str, str]:
    return {**app_env(tmp, model), "AGENTS_AUTH": "entra", "AGENTS_AUTH_TENANT_ID": TENANT,
            "AGENTS_AUTH_AUDIENCES": AUDIENCE, "WEBSITE_AUTH_ENABLED": "True" if platform_auth else "False",
            "AGENTS_MAX_MESSAGE_CHARS": "200"}


@pytest.fixture(scope="module")
def signed_in(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    """The sample behind App Service Authentication with Entra ID."""
    with LocalHostProcess(SAMPLE, env=entra_env(tmp_path_factory.mktemp("on"), model, True)) as host:
        yield host


@pytest.fixture(scope="module")
def unprotected(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    """The same app where App Service Authentication is off: identity headers are forged there."""
    with LocalHostProcess(SAMPLE, env=entra_env(tmp_path_factory.mktemp("off"), model, False)) as host:
        yield host


def post(host: LocalHostProcess, path: str, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{host.url}{path}", json=body, headers=headers or {}, timeout=30)


def error_of(response: httpx.Response) -> tuple[int, str]:
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response.status_code, response.json()["error"]["code"]


def test_forged_principal_is_refused_on_the_demo_route_as_on_the_chat_route(unprotected: LocalHostProcess,
                                                                              script: Script) -> None:
    body = {"message": "Weather in Tokyo?", "user_id": ALICE}
    demo, chat = post(unprotected, DEMO, body, principal()), post(unprotected, CHAT, body, principal())
    assert error_of(demo) == error_of(chat) == (401, "untrusted_identity")
    assert demo.headers["www-authenticate"].startswith("Bearer")
    assert not script.requests, "no turn may run for a forged caller"


def test_missing_or_foreign_principal_is_refused_on_the_demo_route(signed_in: LocalHostProcess,
                                                                    script: Script) -> None:
    body = {"message": "Weather in Tokyo?"}
    assert error_of(post(signed_in, DEMO, body)) == error_of(post(signed_in, CHAT, body)) == (401, "unauthorized")
    other_tenant = principal(tenant="11111111-2222-4333-8444-555555555555")
    assert error_of(post(signed_in, DEMO, body, other_tenant)) == (401, "invalid_token")
    assert not script.requests


def test_the_turn_belongs_to_the_principal_not_to_the_bodys_user_id(signed_in: LocalHostProcess,
                                                                    script: Script) -> None:
    script.add_for(WEATHER, Reply(text="Mild, around 20°C."))
    reply = post(signed_in, DEMO, {"message": "Weather in Lisbon in May?", "session_id": "owned-1",
                                   "user_id": BOB}, principal(ALICE))
    assert reply.status_code == 200, reply.text
    assert reply.json()["answer"] == "Mild, around 20°C."
    session = httpx.get(f"{signed_in.url}/api/sessions/owned-1", headers=principal(ALICE), timeout=10)
    assert session.status_code == 200, session.text
    assert session.json()["user_id"] == ALICE
    # Bob, whose id the body named, cannot see it: the body's user_id was ignored.
    assert httpx.get(f"{signed_in.url}/api/sessions/owned-1", headers=principal(BOB), timeout=10).status_code == 404


def test_limits_and_the_error_envelope_apply_to_the_demo_route(signed_in: LocalHostProcess,
                                                               script: Script) -> None:
    too_long = {"message": "x" * 201}
    assert error_of(post(signed_in, DEMO, too_long, principal())) == (400, "message_too_long")
    wrong_method = httpx.get(f"{signed_in.url}{DEMO}", headers=principal(), timeout=10)
    assert error_of(wrong_method) == (405, "method_not_allowed")
    assert wrong_method.headers["allow"] == "POST"
    assert not script.requests


def test_a_key_in_the_answer_is_scrubbed_on_the_demo_route(signed_in: LocalHostProcess, model: OpenAIServer,
                                                          script: Script) -> None:
    script.add_for(WEATHER, Reply(text=f"The key is {model.api_key} and it is sunny."))
    reply = post(signed_in, DEMO, {"message": "Weather in Rome?"}, principal())
    assert reply.status_code == 200, reply.text
    assert model.api_key not in reply.text
    assert "it is sunny" in reply.json()["answer"]
