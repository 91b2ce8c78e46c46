"""Entra ID through App Service Authentication: the app trusts the platform's identity headers only when the
platform says it is on, checks tenant, audience and client, fails closed, and makes the caller own sessions.

The local host stands in for the platform's front end here: with ``WEBSITE_AUTH_ENABLED=True`` in its
environment, the identity headers a test sends are what App Service Authentication would have passed on.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from azurefunctions.agents.errors import ConfigurationError
from azurefunctions.agents.http.auth import AuthError, EntraAuth, encode_principal
from tests.security.apps.entra.function_app import AUDIENCE, CLIENTS, TENANT
from tests.security.conftest import ENTRA_APP
from tests.servers.localhost import LocalHostProcess

ALICE = "0a11ce00-0000-4000-8000-000000000001"
BOB = "0b0b0000-0000-4000-8000-000000000002"
OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
TID = "http://schemas.microsoft.com/identity/claims/tenantid"


def principal(oid: str = ALICE, *, tenant: str = TENANT, audience: str = AUDIENCE, client: str = CLIENTS[0],
              extra: list[tuple[str, str]] | None = None) -> dict[str, str]:
    claims = [(OID, oid), (TID, tenant), ("aud", audience), ("azp", client), ("name", "Test User"),
              *(extra or [])]
    return {"x-ms-client-principal": encode_principal(claims), "x-ms-client-principal-id": oid,
            "x-ms-client-principal-idp": "aad", "x-ms-client-principal-name": "user@example.com"}


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    env = {"WEBSITE_AUTH_ENABLED": "True", "AGENTS_SESSION_DB": str(tmp_path_factory.mktemp("entra") / "s.db")}
    with LocalHostProcess(ENTRA_APP, env=env) as process:
        yield process


@pytest.fixture(scope="module")
def unprotected_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    """The same app where App Service Authentication is off: identity headers there are forged."""
    env = {"WEBSITE_AUTH_ENABLED": "False", "AGENTS_SESSION_DB": str(tmp_path_factory.mktemp("off") / "s.db")}
    with LocalHostProcess(ENTRA_APP, env=env) as process:
        yield process


def _chat(host: LocalHostProcess, headers: dict[str, str], **body: object) -> httpx.Response:
    return httpx.post(f"{host.url}/api/agents/Greeter/chat", json={"message": "hi", **body}, headers=headers)


def _error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == code, response.text


def test_missing_principal_is_401_on_every_protected_route(host: LocalHostProcess) -> None:
    response = _chat(host, {})
    _error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")
    for method, path in (("GET", "/api/agents"), ("GET", "/api/agents/Greeter/info"),
                         ("GET", "/api/sessions/abc"), ("POST", "/api/mcp"), ("POST", "/api/agents/Greeter/a2a"),
                         ("GET", "/api/sessions/abc/stream"), ("DELETE", "/api/sessions/abc")):
        _error(httpx.request(method, host.url + path, json={}), 401, "unauthorized")


def test_public_routes_stay_anonymous_and_openapi_names_the_bearer_scheme(host: LocalHostProcess) -> None:
    for path in ("/api/health", "/.well-known/agent-card.json", "/api/agents/Greeter/.well-known/agent-card.json"):
        assert httpx.get(host.url + path).status_code == 200, path
    document = httpx.get(f"{host.url}/api/openapi.json").json()
    assert document["components"]["securitySchemes"]["entra"]["scheme"] == "bearer"
    assert document["paths"]["/api/agents/{agent_name}/chat"]["post"]["security"] == [{"entra": []}]
    assert document["paths"]["/api/health"]["get"]["security"] == []


def test_allowed_principal_gets_in_without_a_function_key(host: LocalHostProcess) -> None:
    response = _chat(host, principal())
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "success"
    mcp = httpx.post(f"{host.url}/api/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                     headers={**principal(), "accept": "application/json, text/event-stream"})
    assert mcp.status_code == 200


def test_malformed_principals_are_401(host: LocalHostProcess) -> None:
    def raw(value: bytes) -> dict[str, str]:
        return {"x-ms-client-principal": base64.b64encode(value).decode()}

    for headers in ({"x-ms-client-principal": "%%%not-base64"}, raw(b"not json"), raw(b"[1, 2]"),
                    raw(b'{"auth_typ": "aad", "claims": {"oid": "x"}}'),
                    raw(b'{"auth_typ": "aad", "claims": [{"typ": "oid"}]}'),
                    raw(b"\xff\xfe{}"), raw(b'{"auth_typ": "aad", "claims": []}'),
                    {"x-ms-client-principal": "A" * 40000}):
        _error(_chat(host, headers), 401, "invalid_principal")


def test_other_identity_providers_and_inconsistent_headers_are_401(host: LocalHostProcess) -> None:
    _error(_chat(host, {**principal(), "x-ms-client-principal-idp": "github"}), 401, "invalid_principal")
    _error(_chat(host, {**principal(), "x-ms-client-principal-id": BOB}), 401, "invalid_principal")
    google = principal()
    google["x-ms-client-principal"] = encode_principal([(OID, ALICE), (TID, TENANT), ("aud", AUDIENCE)],
                                                       auth_typ="google")
    _error(_chat(host, google), 401, "invalid_principal")


def test_wrong_tenant_and_wrong_audience_are_401(host: LocalHostProcess) -> None:
    _error(_chat(host, principal(tenant="99999999-2222-3333-4444-555555555555")), 401, "invalid_token")
    _error(_chat(host, principal(audience="api://someone-else")), 401, "invalid_token")


def test_a_client_application_not_on_the_list_is_403(host: LocalHostProcess) -> None:
    _error(_chat(host, principal(client="cccccccc-0000-0000-0000-000000000009")), 403, "forbidden")
    assert _chat(host, principal(client=CLIENTS[1])).status_code == 200


def test_forged_headers_while_platform_auth_is_off_are_401(unprotected_platform: LocalHostProcess) -> None:
    _error(_chat(unprotected_platform, principal()), 401, "untrusted_identity")
    _error(_chat(unprotected_platform, {"x-ms-client-principal-id": ALICE}), 401, "untrusted_identity")
    _error(_chat(unprotected_platform, {}), 401, "unauthorized")
    assert "forged" in unprotected_platform.output
    assert httpx.get(f"{unprotected_platform.url}/api/health").status_code == 200


def test_the_principal_owns_its_sessions_whatever_user_id_is_sent(host: LocalHostProcess) -> None:
    first = _chat(host, principal(ALICE), user_id=BOB)  # a user_id in the body is replaced by the principal
    assert first.status_code == 200, first.text
    session_id = first.json()["session_id"]
    url = f"{host.url}/api/sessions/{session_id}"
    mine = httpx.get(url, params={"user_id": BOB}, headers=principal(ALICE))
    assert mine.status_code == 200 and mine.json()["user_id"] == ALICE
    history = mine.json()["messages"]

    # Bob, signed in, cannot read, continue, resume or delete Alice's session, even naming her as user_id.
    _error(httpx.get(url, params={"user_id": ALICE}, headers=principal(BOB)), 404, "session_not_found")
    _error(_chat(host, principal(BOB), session_id=session_id, user_id=ALICE), 404, "session_not_found")
    _error(httpx.delete(url, params={"user_id": ALICE}, headers=principal(BOB)), 404, "session_not_found")
    stream = httpx.get(f"{url}/stream", params={"user_id": ALICE}, headers=principal(BOB))
    assert stream.status_code == 404
    after = httpx.get(url, headers=principal(ALICE))
    assert after.status_code == 200 and after.json()["messages"] == history

    assert _chat(host, principal(ALICE), session_id=session_id).status_code == 200
    assert httpx.delete(url, headers=principal(ALICE)).status_code == 204


# EntraAuth on its own --------------------------------------------------------------------------------------
ON = {"WEBSITE_AUTH_ENABLED": "True"}


def test_groups_and_roles_allow_when_either_matches() -> None:
    auth = EntraAuth(tenant_id=TENANT, audiences=[AUDIENCE], allowed_groups=["G-1"], allowed_roles=["Agents.Use"])
    assert auth.authenticate(principal(extra=[("groups", "g-1")]), ON).groups == {"g-1"}
    assert auth.authenticate(principal(extra=[("roles", "Agents.Use")]), ON).roles == {"Agents.Use"}
    custom = {"x-ms-client-principal": encode_principal(
        [(OID, ALICE), (TID, TENANT), ("aud", AUDIENCE), ("app-role", "Agents.Use")], role_typ="app-role")}
    assert auth.authenticate(custom, ON).user_id == ALICE
    with pytest.raises(AuthError) as denied:
        auth.authenticate(principal(extra=[("groups", "g-2"), ("roles", "Other")]), ON)
    assert denied.value.status == 403


def test_v1_claim_names_are_accepted() -> None:
    auth = EntraAuth(tenant_id=TENANT, audiences=[AUDIENCE], allowed_client_ids=[CLIENTS[0]])
    headers = {"x-ms-client-principal": encode_principal(
        [("oid", BOB.upper()), ("tid", TENANT.upper()), ("aud", AUDIENCE), ("appid", CLIENTS[0])])}
    found = auth.authenticate(headers, ON)
    assert (found.user_id, found.client_id) == (BOB, CLIENTS[0])


def test_configuration_errors_name_the_argument_and_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AGENTS_AUTH_TENANT_ID", "AGENTS_AUTH_AUDIENCES", "AGENTS_AUTH"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match=r"tenant_id.*AGENTS_AUTH_TENANT_ID"):
        EntraAuth(audiences=[AUDIENCE])
    with pytest.raises(ConfigurationError, match=r"audiences.*AGENTS_AUTH_AUDIENCES"):
        EntraAuth(tenant_id=TENANT)
    assert EntraAuth.from_settings() is None
    monkeypatch.setenv("AGENTS_AUTH", "entra")
    monkeypatch.setenv("AGENTS_AUTH_TENANT_ID", TENANT)
    monkeypatch.setenv("AGENTS_AUTH_AUDIENCES", f"{AUDIENCE}, {CLIENTS[0]}")
    monkeypatch.setenv("AGENTS_AUTH_ALLOWED_GROUPS", "g-1,g-2")
    auth = EntraAuth.from_settings()
    assert auth is not None and auth.audiences == (AUDIENCE, CLIENTS[0]) and auth.allowed_groups == ("g-1", "g-2")
    monkeypatch.setenv("AGENTS_AUTH", "basic")
    with pytest.raises(ConfigurationError, match="AGENTS_AUTH"):
        EntraAuth.from_settings()


def test_app_setting_turns_entra_on_and_function_keys_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from azurefunctions.agents import Agent, AgentFunctionApp
    from azurefunctions.agents.types import LLMConfig

    monkeypatch.setenv("AGENTS_AUTH", "entra")
    monkeypatch.setenv("AGENTS_AUTH_TENANT_ID", TENANT)
    monkeypatch.setenv("AGENTS_AUTH_AUDIENCES", AUDIENCE)
    app = AgentFunctionApp(agents=[Agent(name="A", llm_config=LLMConfig(provider="offline"))])
    assert isinstance(app.auth, EntraAuth)
    assert app.http_auth_level_default.name == "ANONYMOUS"
    keyed = AgentFunctionApp(agents=[Agent(name="A", llm_config=LLMConfig(provider="offline"))],
                             http_auth_level="FUNCTION")
    assert keyed.http_auth_level_default.name == "FUNCTION" and keyed.auth is not None
    with pytest.raises(TypeError, match="auth must be an EntraAuth"):
        AgentFunctionApp(agents=[Agent(name="A", llm_config=LLMConfig(provider="offline"))],
                         auth="entra")  # type: ignore[arg-type]
