"""Optional App Service Authentication: off by default; on with an existing registration, with no secret."""

from __future__ import annotations

import pytest
from agents_infra.easyauth import MI_FIC_SETTING, PUBLIC_PATHS

from azurefunctions.agents import settings
from tests.harness import TENANT_ID, Deployment, run_stack

CLIENT = "0c1e0000-aaaa-4bbb-8ccc-000000000001"
CALLER = "0c1e0000-aaaa-4bbb-8ccc-000000000002"


@pytest.fixture(scope="module")
def secured() -> Deployment:
    return run_stack(
        {
            "easyAuthClientId": CLIENT,
            "easyAuthAllowedClientIds": CALLER,
            "easyAuthAudiences": "api://agents.example.com",
        }
    )


def test_off_by_default(default_stack: Deployment) -> None:
    assert not default_stack.of_type("WebAppAuthSettingsV2")
    assert not {MI_FIC_SETTING, "AGENTS_AUTH", "AGENTS_AUTH_TENANT_ID"} & set(default_stack.app_settings)


def test_easy_auth_requires_entra_tokens_for_all_but_the_public_routes(secured: Deployment) -> None:
    auth = secured.one("WebAppAuthSettingsV2").inputs
    site = secured.one("WebApp")
    assert auth["name"] == site.state["name"]
    assert auth["platform"] == {"enabled": True, "runtimeVersion": "~1"}
    assert auth["globalValidation"] == {
        "requireAuthentication": True,
        "unauthenticatedClientAction": "Return401",
        "excludedPaths": list(PUBLIC_PATHS),
    }
    aad = auth["identityProviders"]["azureActiveDirectory"]
    assert aad["enabled"] is True
    assert aad["registration"]["clientId"] == CLIENT
    assert aad["registration"]["openIdIssuer"] == f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"
    assert aad["validation"]["allowedAudiences"] == [f"api://{CLIENT}", CLIENT, "api://agents.example.com"]
    assert aad["validation"]["defaultAuthorizationPolicy"] == {"allowedApplications": [CALLER]}
    assert auth["login"]["tokenStore"]["enabled"] is False and auth["httpSettings"]["requireHttps"] is True


def test_no_client_secret_anywhere_the_managed_identity_is_the_credential(secured: Deployment) -> None:
    aad = secured.one("WebAppAuthSettingsV2").inputs["identityProviders"]["azureActiveDirectory"]
    registration = aad["registration"]
    assert registration["clientSecretSettingName"] == MI_FIC_SETTING == "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID"
    assert not {k for k in registration if k.startswith("clientSecretCertificate")}
    app = secured.app_settings
    identity = secured.one("UserAssignedIdentity").state
    assert app[MI_FIC_SETTING] == identity["clientId"]  # a client ID, not a secret
    assert not [name for name in app if "SECRET" in name.upper() and name != MI_FIC_SETTING]


def test_the_runtime_checks_the_same_tenant_audiences_and_clients(secured: Deployment) -> None:
    app = secured.app_settings
    assert app[settings.AUTH_MODE.name] == "entra"
    assert app[settings.AUTH_TENANT_ID.name] == TENANT_ID
    assert app[settings.AUTH_AUDIENCES.name] == f"api://{CLIENT},{CLIENT},api://agents.example.com"
    assert app[settings.AUTH_ALLOWED_CLIENT_IDS.name] == CALLER
    declared = {s.name for s in settings.all_settings()}
    runtime = {name for name in app if name.startswith("AGENTS_AUTH")}
    assert runtime <= declared


def test_tenant_can_be_another_than_the_deployments() -> None:
    other = "0a0a0a0a-1111-4222-8333-444444444444"
    stack = run_stack({"easyAuthClientId": CLIENT, "easyAuthTenantId": other})
    aad = stack.one("WebAppAuthSettingsV2").inputs["identityProviders"]["azureActiveDirectory"]
    assert aad["registration"]["openIdIssuer"] == f"https://login.microsoftonline.com/{other}/v2.0"
    assert "defaultAuthorizationPolicy" not in aad["validation"]
    assert stack.app_settings[settings.AUTH_TENANT_ID.name] == other
    assert settings.AUTH_ALLOWED_CLIENT_IDS.name not in stack.app_settings


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"easyAuthClientId": "my-app"}, "config 'easyAuthClientId' must be a GUID"),
        ({"easyAuthClientId": CLIENT, "easyAuthAllowedClientIds": "x"}, "config 'easyAuthAllowedClientIds' must be"),
        ({"easyAuthAudiences": "api://x"}, "config 'easyAuthAudiences' needs easyAuthClientId"),
        ({"easyAuthClientId": CLIENT, "easyAuthTenantId": "contoso"}, "config 'easyAuthTenantId' must be a GUID"),
    ],
)
def test_bad_easy_auth_config_stops_with_a_clear_error(config: dict[str, str], message: str) -> None:
    import pulumi

    with pytest.raises(pulumi.RunError) as raised:
        run_stack(config)
    assert message in str(raised.value)
