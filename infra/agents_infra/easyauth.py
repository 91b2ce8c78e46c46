"""Optional App Service Authentication (Easy Auth) with Entra ID, for an existing app registration.

No client secret exists anywhere: the platform proves itself to Entra ID with the app's user-assigned managed
identity, which the registration trusts through a federated identity credential. That is what
`clientSecretSettingName = OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID` means: the app setting of that name holds the
managed identity's client ID, not a secret. Callers send a bearer token for the registration; the platform
validates it and passes the caller to the app in `X-MS-CLIENT-PRINCIPAL`, which the runtime trusts only because
the platform then sets `WEBSITE_AUTH_ENABLED=True` (the runtime's `AGENTS_AUTH=entra` checks tenant, audience
and client again, failing closed).

Unauthenticated requests are answered 401 by the platform before they reach (and cost) a function, except the
routes that are public by design: health, the OpenAPI description and the default agent's A2A card.
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import web

from .config import EasyAuthConfig
from .context import Context

#: The app setting that tells Easy Auth to use the managed identity as the registration's credential.
MI_FIC_SETTING = "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID"

#: Routes the platform lets through without a token (the runtime serves them anonymously too).
PUBLIC_PATHS = ("/api/health", "/api/openapi.json", "/.well-known/agent-card.json", "/.well-known/agent.json")


def issuer(tenant_id: str) -> str:
    return f"https://login.microsoftonline.com/{tenant_id}/v2.0"


def create(ctx: Context, site: web.WebApp, auth: EasyAuthConfig) -> web.WebAppAuthSettingsV2:
    validation: web.AzureActiveDirectoryValidationArgsDict = {"allowed_audiences": list(auth.audiences)}
    if auth.allowed_client_ids:
        validation["default_authorization_policy"] = {"allowed_applications": list(auth.allowed_client_ids)}
    return web.WebAppAuthSettingsV2(
        "function-app-auth",
        name=site.name,
        resource_group_name=ctx.resource_group_name,
        platform={"enabled": True, "runtime_version": "~1"},
        global_validation={
            "require_authentication": True,
            "unauthenticated_client_action": web.UnauthenticatedClientActionV2.RETURN401,
            "excluded_paths": list(PUBLIC_PATHS),
        },
        identity_providers={
            "azure_active_directory": {
                "enabled": True,
                "registration": {
                    "client_id": auth.client_id,
                    "client_secret_setting_name": MI_FIC_SETTING,
                    "open_id_issuer": issuer(auth.tenant_id),
                },
                "validation": validation,
            }
        },
        login={"token_store": {"enabled": False}},
        http_settings={"require_https": True},
        opts=pulumi.ResourceOptions(depends_on=[site]),
    )
