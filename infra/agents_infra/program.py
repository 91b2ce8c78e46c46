"""The whole stack: create every resource from a `StackConfig` and return the stack outputs.

Outputs are named as the runtime's settings module names the same facts (`COSMOS_ENDPOINT`, ...), plus what
azd and the scripts need (`AZURE_RESOURCE_GROUP`, `SERVICE_API_NAME`, ...). `AZURE_CLIENT_ID` is never an
output: in CI that name belongs to the pipeline's own principal, and the azd environment receives the outputs.
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import resources

from . import azure_openai, cosmos, easyauth, functionapp, identity, keyvault, monitoring, roles, storage
from .config import StackConfig
from .context import Context

# Outputs for azd and the deployment scripts only; the runtime reads none of these.
DEPLOYMENT_OUTPUTS = (
    "AZURE_LOCATION",
    "AZURE_RESOURCE_GROUP",
    "AZURE_TENANT_ID",
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_FUNCTION_APP_NAME",
    "AZURE_FUNCTION_IDENTITY_CLIENT_ID",
    "AZURE_KEY_VAULT_NAME",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_WORK_QUEUE_NAME",
    "SERVICE_API_NAME",
    "SERVICE_API_URI",
)


def build(config: StackConfig) -> dict[str, pulumi.Input[str]]:
    """Create the stack's resources; return the outputs to export."""
    names = config.names
    group = resources.ResourceGroup(
        "resource-group",
        resource_group_name=names.resource_group,
        location=config.location,
        tags={"azd-env-name": config.env_name},
    )
    ctx = Context(config=config, names=names, resource_group_name=group.name)

    uami = identity.create(ctx)
    uami_key = identity.arm_id(ctx)
    store = storage.create(ctx)
    telemetry = monitoring.create(ctx)
    vault = keyvault.create(ctx)
    state = cosmos.create(ctx)
    model = azure_openai.create(ctx, config.openai) if config.openai is not None else None

    sub = config.subscription_id

    def grant_app(logical: str, role_id: str, scope: pulumi.Input[str], scope_key: str) -> pulumi.Resource:
        return roles.assign(
            logical,
            subscription_id=sub,
            role_id=role_id,
            principal_id=uami.principal_id,
            principal_key=uami_key,
            principal_type="ServicePrincipal",
            scope=scope,
            scope_key=scope_key,
        )

    storage_key = storage.arm_id(ctx)
    app_grants = [
        # Host storage (leases, keys) and the deployment package container.
        grant_app("app-storage-blob-owner", roles.STORAGE_BLOB_DATA_OWNER, store.account.id, storage_key),
        # Queue triggers and the background-work queue.
        grant_app(
            "app-storage-queue-contributor",
            roles.STORAGE_QUEUE_DATA_CONTRIBUTOR,
            store.account.id,
            storage_key,
        ),
        # Telemetry ingestion with Entra ID (the component has local auth off).
        grant_app(
            "app-monitoring-publisher",
            roles.MONITORING_METRICS_PUBLISHER,
            telemetry.component.id,
            monitoring.component_arm_id(ctx),
        ),
        # Read provider keys from the vault.
        grant_app("app-keyvault-secrets-user", roles.KEY_VAULT_SECRETS_USER, vault.id, keyvault.arm_id(ctx)),
    ]
    if model is not None:
        app_grants.append(
            grant_app(
                "app-openai-user",
                roles.COGNITIVE_SERVICES_OPENAI_USER,
                model.account.id,
                azure_openai.arm_id(ctx),
            )
        )
    cosmos_key = cosmos.arm_id(ctx)
    roles.assign_cosmos_data(
        "app-cosmos-data-contributor",
        resource_group_name=group.name,
        account=state.account,
        database_name=config.cosmos_database,
        principal_id=uami.principal_id,
        principal_key=uami_key,
        account_key=cosmos_key,
    )

    deployer = config.deployer_principal_id
    # The deployer puts provider keys into the vault (scripts/set_provider_key.py).
    roles.assign(
        "deployer-keyvault-secrets-officer",
        subscription_id=sub,
        role_id=roles.KEY_VAULT_SECRETS_OFFICER,
        principal_id=deployer,
        principal_key=deployer,
        principal_type=config.deployer_principal_type,
        scope=vault.id,
        scope_key=keyvault.arm_id(ctx),
    )
    if config.deployer_cosmos_access:
        # The session-store contract tests run against the real container after a deployment.
        roles.assign_cosmos_data(
            "deployer-cosmos-data-contributor",
            resource_group_name=group.name,
            account=state.account,
            database_name=config.cosmos_database,
            principal_id=deployer,
            principal_key=deployer,
            account_key=cosmos_key,
        )

    vault_uri = vault.properties.apply(lambda p: p.vault_uri)
    app = functionapp.create(
        ctx,
        functionapp.AppInputs(
            identity_id=uami.id,
            identity_client_id=uami.client_id,
            blob_endpoint=store.blob_endpoint,
            queue_endpoint=store.queue_endpoint,
            deployment_container=store.deployment_container.name,
            app_insights_connection_string=telemetry.component.connection_string,
            key_vault_uri=vault_uri,
            cosmos_endpoint=state.account.document_endpoint,
            openai_endpoint=model.endpoint if model is not None else None,
        ),
        depends_on=[*app_grants, store.deployment_container, state.container],
    )
    if config.easy_auth is not None:
        easyauth.create(ctx, app.site, config.easy_auth)

    outputs: dict[str, pulumi.Input[str]] = {
        "AZURE_LOCATION": config.location,
        "AZURE_RESOURCE_GROUP": group.name,
        "AZURE_TENANT_ID": config.tenant_id,
        "AZURE_SUBSCRIPTION_ID": sub,
        "AZURE_FUNCTION_APP_NAME": app.site.name,
        "AZURE_FUNCTION_IDENTITY_CLIENT_ID": uami.client_id,
        "AZURE_KEY_VAULT_NAME": vault.name,
        "AZURE_STORAGE_ACCOUNT_NAME": store.account.name,
        "AZURE_WORK_QUEUE_NAME": store.work_queue.name,
        "SERVICE_API_NAME": app.site.name,
        "SERVICE_API_URI": app.uri,
        # Named as the runtime's settings: the same facts the app receives as app settings.
        "AGENT_PROVIDER": config.agent_provider,
        "APPLICATIONINSIGHTS_CONNECTION_STRING": telemetry.component.connection_string,
        "AZURE_KEY_VAULT_ENDPOINT": vault_uri,
        "COSMOS_ENDPOINT": state.account.document_endpoint,
        "COSMOS_DATABASE": config.cosmos_database,
        "COSMOS_CONTAINER": config.cosmos_container,
    }
    if model is not None and config.openai is not None:
        outputs["AZURE_OPENAI_ENDPOINT"] = model.endpoint
        outputs["AZURE_OPENAI_DEPLOYMENT"] = config.openai.deployment_name
    return outputs
