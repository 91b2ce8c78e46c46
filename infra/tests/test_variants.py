"""Configurations other than the default: OpenAI off, streaming, purge protection, sizing, bad config."""

from __future__ import annotations

import pytest

from tests.harness import run_stack


def test_openai_off_provisions_no_openai_and_no_openai_role() -> None:
    stack = run_stack({"openaiEnabled": "false", "agentProvider": "openai"})
    assert not stack.of_type("Account") and not stack.of_type("Deployment")
    roles = [a.inputs["roleDefinitionId"] for a in stack.of_type("RoleAssignment")]
    assert not any(r.endswith("5e0bd9bd-7b93-4f28-af87-19fc36ad61bd") for r in roles)
    assert len(roles) == 5
    app = stack.app_settings
    assert app["AGENT_PROVIDER"] == "openai"
    assert "AZURE_OPENAI_ENDPOINT" not in app and "AZURE_OPENAI_DEPLOYMENT" not in app
    assert "AZURE_OPENAI_ENDPOINT" not in stack.outputs
    # The key reaches the app through the vault only.
    assert app["AZURE_KEY_VAULT_ENDPOINT"].startswith("https://")


def test_openai_model_settings_are_configurable() -> None:
    stack = run_stack(
        {
            "openaiModel": "gpt-4.1-mini",
            "openaiModelVersion": "2025-04-14",
            "openaiCapacity": "50",
            "openaiDeploymentName": "chat",
            "openaiSku": "Standard",
            "openaiLocation": "swedencentral",
        }
    )
    deployment = stack.one("Deployment").inputs
    assert deployment["deploymentName"] == "chat"
    assert deployment["properties"]["model"] == {
        "format": "OpenAI",
        "name": "gpt-4.1-mini",
        "version": "2025-04-14",
    }
    assert deployment["sku"] == {"name": "Standard", "capacity": 50}
    assert stack.one("Account").inputs["location"] == "swedencentral"
    assert stack.app_settings["AZURE_OPENAI_DEPLOYMENT"] == "chat"


def test_streaming_sets_init_indexing_only_when_on(default_stack) -> None:  # type: ignore[no-untyped-def]
    assert "PYTHON_ENABLE_INIT_INDEXING" not in default_stack.app_settings
    stack = run_stack({"streaming": "true"})
    assert stack.app_settings["PYTHON_ENABLE_INIT_INDEXING"] == "1"


def test_purge_protection_and_retention() -> None:
    stack = run_stack({"keyVaultPurgeProtection": "true", "keyVaultSoftDeleteRetentionDays": "90"})
    properties = stack.one("Vault").inputs["properties"]
    assert properties["enablePurgeProtection"] is True
    assert properties["softDeleteRetentionInDays"] == 90


def test_sizing_and_python_version() -> None:
    stack = run_stack({"pythonVersion": "3.13", "instanceMemoryMb": "4096", "maximumInstanceCount": "40"})
    config = stack.one("WebApp").inputs["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.13"}
    assert config["scaleAndConcurrency"] == {
        "instanceMemoryMB": 4096,
        "maximumInstanceCount": 40,
        "triggers": {"http": {"perInstanceConcurrency": 64}},
    }


def test_cosmos_names_and_ttl_are_configurable() -> None:
    stack = run_stack({"cosmosDatabase": "db1", "cosmosContainer": "c1", "cosmosDefaultTtl": "86400"})
    container = stack.one("SqlResourceSqlContainer").inputs
    assert container["resource"]["defaultTtl"] == 86400
    assert (container["databaseName"], container["containerName"]) == ("db1", "c1")
    assert (stack.app_settings["COSMOS_DATABASE"], stack.app_settings["COSMOS_CONTAINER"]) == ("db1", "c1")
    for assignment in stack.of_type("SqlResourceSqlRoleAssignment"):
        assert assignment.inputs["scope"].endswith("/dbs/db1")


def test_location_from_the_azd_environment_when_no_stack_config() -> None:
    stack = run_stack(env={"AZURE_ENV_NAME": "x", "AZURE_LOCATION": "westus3"}, base_config={})
    assert stack.one("ResourceGroup").inputs["location"] == "westus3"
    assert stack.outputs["AZURE_RESOURCE_GROUP"] == "rg-x"


def test_env_name_falls_back_to_the_stack_name() -> None:
    stack = run_stack(env={}, stack="staging")
    assert stack.outputs["AZURE_RESOURCE_GROUP"] == "rg-staging"


@pytest.mark.parametrize(
    ("config", "env", "message"),
    [
        (
            {},
            {"AZURE_ENV_NAME": "dev"},
            "no Azure region: set it with: pulumi config set azure-native:location",
        ),
        ({"openaiEnabled": "false"}, None, "openaiEnabled is false, so the app needs another model provider"),
        (
            {"openaiEnabled": "false", "agentProvider": "ollama"},
            None,
            "config 'agentProvider' must be one of",
        ),
        ({"agentProvider": "anthropic"}, None, "but openaiEnabled is true"),
        ({"streamin": "true"}, None, "unknown config key(s) streamin"),
        ({"instanceMemoryMb": "512"}, None, "config 'instanceMemoryMb' must be one of 2048, 4096"),
    ],
)
def test_bad_config_stops_with_a_clear_error(config: dict[str, str], env: dict[str, str] | None, message: str) -> None:
    import pulumi

    base: dict[str, str] | None = {} if "no Azure region" in message else None
    with pytest.raises(pulumi.RunError) as raised:
        if base is None:
            run_stack(config, env)
        else:
            run_stack(config, env, base_config=base)
    assert message in str(raised.value)
