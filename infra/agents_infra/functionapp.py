"""The Flex Consumption plan and the Function App, configured with identity-based settings only.

Flex Consumption rejects several classic settings, so the site config is a plain dict holding app settings
alone: the typed `SiteConfigArgs` would inject `netFrameworkVersion` and others that some Flex regions refuse.
The deployment package goes to a blob container through the managed identity, and basic-auth publishing
(FTP and SCM credentials) is off: azd deploys with an Entra token.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import web

from .config import DEFAULT_HTTP_PER_INSTANCE_CONCURRENCY
from .context import Context

# Settings the Functions platform reads (not the runtime package): identity-based host storage, and the
# indexing switch the HTTP-streams model needs.
PLATFORM_SETTINGS = (
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    "PYTHON_ENABLE_INIT_INDEXING",
    # Easy Auth's credential for the app registration: the managed identity's client ID (no secret).
    "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID",
)

# Rejected or meaningless on Flex Consumption: the platform manages them, or they are key-based.
FLEX_FORBIDDEN_SETTINGS = (
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD",
    "WEBSITE_NODE_DEFAULT_VERSION",
    "AzureWebJobsStorage",
)

SERVICE_NAME = "api"


@dataclass(frozen=True)
class AppInputs:
    """Values the app settings are made of (outputs of the other modules)."""

    identity_id: pulumi.Input[str]
    identity_client_id: pulumi.Input[str]
    blob_endpoint: pulumi.Input[str]
    queue_endpoint: pulumi.Input[str]
    deployment_container: pulumi.Input[str]
    app_insights_connection_string: pulumi.Input[str]
    key_vault_uri: pulumi.Input[str]
    cosmos_endpoint: pulumi.Input[str]
    openai_endpoint: pulumi.Input[str] | None


@dataclass(frozen=True)
class FunctionApp:
    plan: web.AppServicePlan
    site: web.WebApp
    uri: pulumi.Output[str]


def app_settings(ctx: Context, inputs: AppInputs) -> list[web.NameValuePairArgsDict]:
    """Every app setting of the Function App, in a stable order."""
    cfg = ctx.config
    values: list[tuple[str, pulumi.Input[str]]] = [
        ("AzureWebJobsStorage__credential", "managedidentity"),
        ("AzureWebJobsStorage__clientId", inputs.identity_client_id),
        ("AzureWebJobsStorage__blobServiceUri", inputs.blob_endpoint),
        ("AzureWebJobsStorage__queueServiceUri", inputs.queue_endpoint),
        ("AZURE_CLIENT_ID", inputs.identity_client_id),
        ("APPLICATIONINSIGHTS_CONNECTION_STRING", inputs.app_insights_connection_string),
        (
            "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
            pulumi.Output.from_input(inputs.identity_client_id).apply(
                lambda client_id: f"ClientId={client_id};Authorization=AAD"
            ),
        ),
        ("AZURE_KEY_VAULT_ENDPOINT", inputs.key_vault_uri),
        ("COSMOS_ENDPOINT", inputs.cosmos_endpoint),
        ("COSMOS_DATABASE", cfg.cosmos_database),
        ("COSMOS_CONTAINER", cfg.cosmos_container),
        ("AGENT_PROVIDER", cfg.agent_provider),
        ("AGENTS_WORK_QUEUE", cfg.work_queue_name),
    ]
    if cfg.openai is not None and inputs.openai_endpoint is not None:
        values.append(("AZURE_OPENAI_ENDPOINT", inputs.openai_endpoint))
        values.append(("AZURE_OPENAI_DEPLOYMENT", cfg.openai.deployment_name))
    if cfg.agent_model is not None:
        values.append(("AGENT_MODEL", cfg.agent_model))
    if cfg.streaming:
        values.append(("PYTHON_ENABLE_INIT_INDEXING", "1"))
    if cfg.http_per_instance_concurrency != DEFAULT_HTTP_PER_INSTANCE_CONCURRENCY:
        # The runtime's default limit equals the platform's default here; a changed one is set on both sides.
        values.append(("AGENTS_MAX_CONCURRENT_TURNS", str(cfg.http_per_instance_concurrency)))
    if cfg.easy_auth is not None:
        # The platform's credential for the registration, and the runtime's own check of every caller.
        values.append(("OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID", inputs.identity_client_id))
        values.append(("AGENTS_AUTH", "entra"))
        values.append(("AGENTS_AUTH_TENANT_ID", cfg.easy_auth.tenant_id))
        values.append(("AGENTS_AUTH_AUDIENCES", ",".join(cfg.easy_auth.audiences)))
        if cfg.easy_auth.allowed_client_ids:
            values.append(("AGENTS_AUTH_ALLOWED_CLIENT_IDS", ",".join(cfg.easy_auth.allowed_client_ids)))
    return [{"name": name, "value": value} for name, value in values]


def create(ctx: Context, inputs: AppInputs, *, depends_on: list[pulumi.Resource] | None = None) -> FunctionApp:
    plan = web.AppServicePlan(
        "plan",
        name=ctx.names.plan,
        resource_group_name=ctx.resource_group_name,
        location=ctx.location,
        kind="functionapp",
        reserved=True,
        sku={"name": "FC1", "tier": "FlexConsumption"},
        tags=ctx.tags,
    )
    deployment_url = pulumi.Output.concat(inputs.blob_endpoint, inputs.deployment_container)
    function_app_config: web.FunctionAppConfigArgsDict = {
        "deployment": {
            "storage": {
                "type": web.FunctionsDeploymentStorageType.BLOB_CONTAINER,
                "value": deployment_url,
                "authentication": {
                    "type": web.AuthenticationType.USER_ASSIGNED_IDENTITY,
                    "user_assigned_identity_resource_id": inputs.identity_id,
                },
            }
        },
        "runtime": {"name": web.RuntimeName.PYTHON, "version": ctx.config.python_version},
        "scale_and_concurrency": {
            "instance_memory_mb": ctx.config.instance_memory_mb,
            "maximum_instance_count": ctx.config.maximum_instance_count,
            "triggers": {"http": {"per_instance_concurrency": ctx.config.http_per_instance_concurrency}},
        },
    }
    # A plain dict, not SiteConfigArgs: the Args class adds netFrameworkVersion, which Flex rejects.
    site_config: web.SiteConfigArgsDict = {"app_settings": app_settings(ctx, inputs), "min_tls_version": "1.2"}
    site = web.WebApp(
        "function-app",
        name=ctx.names.function_app,
        resource_group_name=ctx.resource_group_name,
        location=ctx.location,
        kind="functionapp,linux",
        server_farm_id=plan.id,
        https_only=True,
        identity={
            "type": web.ManagedServiceIdentityType.USER_ASSIGNED,
            "user_assigned_identities": [inputs.identity_id],
        },
        function_app_config=function_app_config,
        site_config=site_config,
        tags={**ctx.tags, "azd-service-name": SERVICE_NAME},
        # The roles must exist before the host first starts, or it fails to reach its storage.
        opts=pulumi.ResourceOptions(depends_on=depends_on or []),
    )
    # Basic-auth publishing credentials off: deployments use Entra ID.
    web.WebAppFtpAllowed(
        "function-app-ftp",
        name=site.name,
        resource_group_name=ctx.resource_group_name,
        allow=False,
    )
    web.WebAppScmAllowed(
        "function-app-scm",
        name=site.name,
        resource_group_name=ctx.resource_group_name,
        allow=False,
    )
    return FunctionApp(
        plan=plan,
        site=site,
        uri=site.default_host_name.apply(lambda host: f"https://{host}"),
    )
