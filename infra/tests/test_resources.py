"""Every resource and every security setting of the default stack, one test per asserted setting."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.harness import Deployment, run_stack

# (resource type, input path, expected value). Each row is a separate test, so the test report lists every
# setting the stack is held to.
SETTINGS: list[tuple[str, str, Any]] = [
    # Storage: no keys, no anonymous access, TLS 1.2.
    ("StorageAccount", "allowSharedKeyAccess", False),
    ("StorageAccount", "allowBlobPublicAccess", False),
    ("StorageAccount", "minimumTlsVersion", "TLS1_2"),
    ("StorageAccount", "enableHttpsTrafficOnly", True),
    ("StorageAccount", "defaultToOAuthAuthentication", True),
    ("StorageAccount", "allowCrossTenantReplication", False),
    ("StorageAccount", "kind", "StorageV2"),
    ("StorageAccount", "sku.name", "Standard_LRS"),
    ("BlobContainer", "publicAccess", "None"),
    ("Queue", "queueName", "agent-turns"),
    # Flex Consumption plan and Function App.
    ("AppServicePlan", "kind", "functionapp"),
    ("AppServicePlan", "reserved", True),
    ("AppServicePlan", "sku.name", "FC1"),
    ("AppServicePlan", "sku.tier", "FlexConsumption"),
    ("WebApp", "kind", "functionapp,linux"),
    ("WebApp", "httpsOnly", True),
    ("WebApp", "identity.type", "UserAssigned"),
    ("WebApp", "functionAppConfig.runtime.name", "python"),
    ("WebApp", "functionAppConfig.runtime.version", "3.12"),
    ("WebApp", "functionAppConfig.scaleAndConcurrency.instanceMemoryMB", 2048),
    ("WebApp", "functionAppConfig.scaleAndConcurrency.maximumInstanceCount", 100),
    ("WebApp", "functionAppConfig.deployment.storage.type", "blobContainer"),
    ("WebApp", "functionAppConfig.deployment.storage.authentication.type", "UserAssignedIdentity"),
    ("WebAppFtpAllowed", "allow", False),
    ("WebAppScmAllowed", "allow", False),
    # Monitoring: Entra-only ingestion.
    ("Workspace", "sku.name", "PerGB2018"),
    ("Workspace", "retentionInDays", 30),
    ("Component", "kind", "web"),
    ("Component", "applicationType", "web"),
    ("Component", "ingestionMode", "LogAnalytics"),
    ("Component", "disableLocalAuth", True),
    # Key Vault: RBAC only, soft delete.
    ("Vault", "properties.enableRbacAuthorization", True),
    ("Vault", "properties.enableSoftDelete", True),
    ("Vault", "properties.softDeleteRetentionInDays", 7),
    ("Vault", "properties.sku.name", "standard"),
    ("Vault", "properties.tenantId", "99999999-8888-7777-6666-555555555555"),
    # Cosmos DB: serverless, Entra only, no key-based metadata writes.
    ("DatabaseAccount", "kind", "GlobalDocumentDB"),
    ("DatabaseAccount", "databaseAccountOfferType", "Standard"),
    ("DatabaseAccount", "capabilities", [{"name": "EnableServerless"}]),
    ("DatabaseAccount", "disableLocalAuth", True),
    ("DatabaseAccount", "disableKeyBasedMetadataWriteAccess", True),
    ("DatabaseAccount", "minimalTlsVersion", "Tls12"),
    ("DatabaseAccount", "consistencyPolicy.defaultConsistencyLevel", "Session"),
    ("DatabaseAccount", "enableAutomaticFailover", False),
    ("SqlResourceSqlDatabase", "resource.id", "agents"),
    ("SqlResourceSqlContainer", "resource.id", "state"),
    ("SqlResourceSqlContainer", "resource.partitionKey.paths", ["/pk"]),
    ("SqlResourceSqlContainer", "resource.partitionKey.kind", "Hash"),
    ("SqlResourceSqlContainer", "resource.partitionKey.version", 2),
    ("SqlResourceSqlContainer", "resource.defaultTtl", -1),
    # Azure OpenAI: keyless.
    ("Account", "kind", "OpenAI"),
    ("Account", "properties.disableLocalAuth", True),
    ("Account", "sku.name", "S0"),
    ("Deployment", "properties.model.format", "OpenAI"),
    ("Deployment", "properties.model.name", "gpt-4o-mini"),
    ("Deployment", "properties.model.version", "2024-07-18"),
    ("Deployment", "sku.name", "GlobalStandard"),
    ("Deployment", "sku.capacity", 10),
]

TAGGABLE = {
    "ResourceGroup",
    "UserAssignedIdentity",
    "StorageAccount",
    "AppServicePlan",
    "WebApp",
    "Workspace",
    "Component",
    "Vault",
    "DatabaseAccount",
    "SqlResourceSqlDatabase",
    "SqlResourceSqlContainer",
    "Account",
}


def lookup(inputs: dict[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in path.split("."):
        assert isinstance(value, dict) and part in value, f"{path}: {part!r} missing"
        value = value[part]
    return value


@pytest.mark.parametrize(("resource_type", "path", "expected"), SETTINGS, ids=[f"{t}.{p}={e}" for t, p, e in SETTINGS])
def test_setting(default_stack: Deployment, resource_type: str, path: str, expected: Any) -> None:
    assert lookup(default_stack.one(resource_type).inputs, path) == expected


def test_exactly_these_resources(default_stack: Deployment) -> None:
    counts = Counter(r.short_type for r in default_stack.resources)
    assert counts == Counter(
        {
            "ResourceGroup": 1,
            "UserAssignedIdentity": 1,
            "StorageAccount": 1,
            "BlobContainer": 1,
            "Queue": 1,
            "AppServicePlan": 1,
            "WebApp": 1,
            "WebAppFtpAllowed": 1,
            "WebAppScmAllowed": 1,
            "Workspace": 1,
            "Component": 1,
            "Vault": 1,
            "DatabaseAccount": 1,
            "SqlResourceSqlDatabase": 1,
            "SqlResourceSqlContainer": 1,
            "Account": 1,
            "Deployment": 1,
            "RoleAssignment": 6,
            "SqlResourceSqlRoleAssignment": 2,
        }
    )


def test_key_vault_has_no_access_policies_and_purge_protection_by_default(default_stack: Deployment) -> None:
    properties = default_stack.one("Vault").inputs["properties"]
    assert "accessPolicies" not in properties
    assert properties["enablePurgeProtection"] is True


def test_purge_protection_is_off_only_when_asked() -> None:
    properties = run_stack({"keyVaultPurgeProtection": "false"}).one("Vault").inputs["properties"]
    # The API rejects enablePurgeProtection=false: off means absent.
    assert "enablePurgeProtection" not in properties


def test_log_analytics_takes_entra_id_only(default_stack: Deployment) -> None:
    assert default_stack.one("Workspace").inputs["features"] == {"disableLocalAuth": True}


def test_http_concurrency_per_instance_matches_the_runtime_limit(default_stack: Deployment) -> None:
    from azurefunctions.agents import settings

    scale = default_stack.one("WebApp").inputs["functionAppConfig"]["scaleAndConcurrency"]
    per_instance = scale["triggers"]["http"]["perInstanceConcurrency"]
    # The platform sends an instance no more requests than the runtime's default limit takes.
    assert int(per_instance) == int(settings.MAX_CONCURRENT_TURNS.default or 0)
    assert settings.MAX_CONCURRENT_TURNS.name not in default_stack.app_settings
    stack = run_stack({"httpPerInstanceConcurrency": "16"})
    triggers = stack.one("WebApp").inputs["functionAppConfig"]["scaleAndConcurrency"]["triggers"]
    assert triggers == {"http": {"perInstanceConcurrency": 16.0}}
    assert stack.app_settings[settings.MAX_CONCURRENT_TURNS.name] == "16"


def test_every_resource_is_in_the_environment_group_and_region(default_stack: Deployment) -> None:
    for resource in default_stack.resources:
        if resource.short_type == "ResourceGroup":
            assert resource.inputs["resourceGroupName"] == "rg-agents-dev"
        elif resource.short_type != "RoleAssignment":
            assert resource.inputs["resourceGroupName"] == "rg-agents-dev", resource.name
        if "location" in resource.inputs:
            assert resource.inputs["location"] == "eastus2", resource.name


def test_tags_env_name_everywhere_service_name_only_on_the_site(default_stack: Deployment) -> None:
    for resource in default_stack.resources:
        tags = resource.inputs.get("tags") or {}
        if resource.short_type in TAGGABLE:
            assert tags.get("azd-env-name") == "agents-dev", resource.name
        if resource.short_type == "WebApp":
            assert tags.get("azd-service-name") == "api"
        else:
            assert "azd-service-name" not in tags, resource.name


def test_site_config_holds_app_settings_and_minimum_tls_only(default_stack: Deployment) -> None:
    # SiteConfigArgs would inject netFrameworkVersion, http20Enabled and localMySqlEnabled: Flex refuses them.
    site_config = default_stack.one("WebApp").inputs["siteConfig"]
    assert set(site_config) == {"appSettings", "minTlsVersion"}
    assert site_config["minTlsVersion"] == "1.2"


def test_site_runs_as_the_identity_and_deploys_through_it(default_stack: Deployment) -> None:
    site = default_stack.one("WebApp").inputs
    identity = default_stack.one("UserAssignedIdentity")
    assert site["identity"]["userAssignedIdentities"] == [identity.id]
    storage = site["functionAppConfig"]["deployment"]["storage"]
    assert storage["authentication"]["userAssignedIdentityResourceId"] == identity.id
    account = default_stack.one("StorageAccount").inputs["accountName"]
    container = default_stack.one("BlobContainer").inputs["containerName"]
    assert storage["value"] == f"https://{account}.blob.core.windows.net/{container}"
    assert site["serverFarmId"] == default_stack.one("AppServicePlan").id


def test_basic_auth_publishing_is_off_for_this_site(default_stack: Deployment) -> None:
    site_name = default_stack.one("WebApp").inputs["name"]
    for short_type in ("WebAppFtpAllowed", "WebAppScmAllowed"):
        assert default_stack.one(short_type).inputs["name"] == site_name


def test_application_insights_uses_the_workspace(default_stack: Deployment) -> None:
    component = default_stack.one("Component").inputs
    assert component["workspaceResourceId"] == default_stack.one("Workspace").id


def test_openai_account_has_a_custom_subdomain_for_entra_auth(default_stack: Deployment) -> None:
    account = default_stack.one("Account").inputs
    assert account["properties"]["customSubDomainName"] == account["accountName"]


def test_cosmos_is_single_region_serverless(default_stack: Deployment) -> None:
    account = default_stack.one("DatabaseAccount").inputs
    assert account["locations"] == [{"locationName": "eastus2", "failoverPriority": 0, "isZoneRedundant": False}]
    # Serverless accounts take no throughput settings.
    for short_type in ("SqlResourceSqlDatabase", "SqlResourceSqlContainer"):
        assert "options" not in default_stack.one(short_type).inputs


def test_cosmos_container_indexes_only_what_the_runtime_queries(default_stack: Deployment) -> None:
    from azurefunctions.agents.sessions.cosmos import INDEXED_PATHS

    policy = default_stack.one("SqlResourceSqlContainer").inputs["resource"]["indexingPolicy"]
    assert policy["indexingMode"] == "consistent" and policy["automatic"] is True
    assert [entry["path"] for entry in policy["includedPaths"]] == list(INDEXED_PATHS)
    assert policy["excludedPaths"] == [{"path": "/*"}]  # message bodies and everything else: not indexed


def test_no_key_listing_invokes(default_stack: Deployment) -> None:
    # The only provider call is reading who deploys; no list*Keys, connection strings or shared keys.
    assert [token for token, _ in default_stack.calls] == ["azure-native:authorization:getClientConfig"]
