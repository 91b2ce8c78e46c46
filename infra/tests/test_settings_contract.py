"""The app settings and outputs use the runtime's setting names (`azurefunctions/agents/settings.py`).

The runtime names every environment setting it reads once; a setting it declares `provisioned=True` must be
set by this stack, and every app setting this stack sets for the runtime must be declared there. A rename on
either side fails here instead of in a deployed app.
"""

from __future__ import annotations

import re

from agents_infra.functionapp import FLEX_FORBIDDEN_SETTINGS, PLATFORM_SETTINGS
from agents_infra.program import DEPLOYMENT_OUTPUTS

from azurefunctions.agents import settings
from tests.harness import Deployment, run_stack

RUNTIME_NAMES = {s.name: s for s in settings.all_settings()}
PROVISIONED = {s.name for s in settings.all_settings() if s.provisioned}


def runtime_app_settings(stack: Deployment) -> set[str]:
    return set(stack.app_settings) - set(PLATFORM_SETTINGS)


def test_every_runtime_app_setting_is_declared_by_the_runtime(default_stack: Deployment) -> None:
    undeclared = runtime_app_settings(default_stack) - set(RUNTIME_NAMES)
    assert not undeclared, f"app settings the runtime does not declare: {sorted(undeclared)}"


def test_every_provisioned_setting_is_set_and_nothing_else(default_stack: Deployment) -> None:
    assert runtime_app_settings(default_stack) == PROVISIONED


def test_platform_settings_are_not_runtime_names() -> None:
    assert not set(PLATFORM_SETTINGS) & set(RUNTIME_NAMES)


def test_cosmos_names_default_to_the_runtime_defaults(default_stack: Deployment) -> None:
    app = default_stack.app_settings
    assert app["COSMOS_DATABASE"] == settings.COSMOS_DATABASE.default
    assert app["COSMOS_CONTAINER"] == settings.COSMOS_CONTAINER.default
    container = default_stack.one("SqlResourceSqlContainer").inputs
    assert (container["databaseName"], container["containerName"]) == (
        settings.COSMOS_DATABASE.default,
        settings.COSMOS_CONTAINER.default,
    )


def test_app_setting_values(default_stack: Deployment) -> None:
    app = default_stack.app_settings
    client_id = default_stack.one("UserAssignedIdentity").state["clientId"]
    account = default_stack.one("StorageAccount").inputs["accountName"]
    assert app["AzureWebJobsStorage__credential"] == "managedidentity"
    assert app["AzureWebJobsStorage__clientId"] == client_id
    assert app["AzureWebJobsStorage__blobServiceUri"] == f"https://{account}.blob.core.windows.net/"
    assert app["AzureWebJobsStorage__queueServiceUri"] == f"https://{account}.queue.core.windows.net/"
    assert app["AZURE_CLIENT_ID"] == client_id
    assert app["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == f"ClientId={client_id};Authorization=AAD"
    assert app["APPLICATIONINSIGHTS_CONNECTION_STRING"] == default_stack.one("Component").state["connectionString"]
    assert app["AZURE_KEY_VAULT_ENDPOINT"] == default_stack.one("Vault").state["properties"]["vaultUri"]
    assert app["COSMOS_ENDPOINT"] == default_stack.one("DatabaseAccount").state["documentEndpoint"]
    assert app["AGENT_PROVIDER"] == "azure_openai"
    assert app["AZURE_OPENAI_ENDPOINT"] == default_stack.one("Account").state["properties"]["endpoint"]
    assert app["AZURE_OPENAI_DEPLOYMENT"] == default_stack.one("Deployment").inputs["deploymentName"]


def test_no_flex_forbidden_settings(default_stack: Deployment) -> None:
    assert not set(default_stack.app_settings) & set(FLEX_FORBIDDEN_SETTINGS)
    assert "FUNCTIONS_WORKER_RUNTIME" in FLEX_FORBIDDEN_SETTINGS and "AzureWebJobsStorage" in FLEX_FORBIDDEN_SETTINGS


SECRET_PATTERNS = re.compile(r"AccountKey=|SharedAccessKey|SharedAccessSignature|sig=|api[-_]?key|password", re.I)


def test_no_secret_in_app_settings_or_outputs(default_stack: Deployment) -> None:
    for name, value in {**default_stack.app_settings, **default_stack.outputs}.items():
        assert not SECRET_PATTERNS.search(f"{name}={value}"), name
        assert not (RUNTIME_NAMES.get(name) and RUNTIME_NAMES[name].secret), name


def test_outputs_are_runtime_names_or_deployment_names(default_stack: Deployment) -> None:
    outputs = set(default_stack.outputs)
    runtime_outputs = outputs - set(DEPLOYMENT_OUTPUTS)
    assert runtime_outputs <= set(RUNTIME_NAMES), sorted(runtime_outputs - set(RUNTIME_NAMES))
    assert set(DEPLOYMENT_OUTPUTS) <= outputs
    assert not set(DEPLOYMENT_OUTPUTS) & set(RUNTIME_NAMES)
    # In CI AZURE_CLIENT_ID is the pipeline's principal: the azd environment must never receive the app's.
    assert "AZURE_CLIENT_ID" not in outputs


def test_outputs_equal_the_app_settings_of_the_same_name(default_stack: Deployment) -> None:
    shared = set(default_stack.outputs) & set(default_stack.app_settings)
    assert shared >= {
        "COSMOS_ENDPOINT",
        "COSMOS_DATABASE",
        "COSMOS_CONTAINER",
        "AZURE_KEY_VAULT_ENDPOINT",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_DEPLOYMENT",
    }
    for name in shared:
        assert default_stack.outputs[name] == default_stack.app_settings[name], name


def test_azd_outputs(default_stack: Deployment) -> None:
    outputs = default_stack.outputs
    site = default_stack.one("WebApp").inputs["name"]
    assert outputs["AZURE_RESOURCE_GROUP"] == "rg-agents-dev"
    assert outputs["SERVICE_API_NAME"] == outputs["AZURE_FUNCTION_APP_NAME"] == site
    assert outputs["SERVICE_API_URI"] == f"https://{site}.azurewebsites.net"
    assert outputs["AZURE_TENANT_ID"] == "99999999-8888-7777-6666-555555555555"
    assert outputs["AZURE_FUNCTION_IDENTITY_CLIENT_ID"] == default_stack.one("UserAssignedIdentity").state["clientId"]
    assert outputs["AZURE_KEY_VAULT_NAME"] == default_stack.one("Vault").inputs["vaultName"]
    assert outputs["AZURE_WORK_QUEUE_NAME"] == "agent-turns"


def test_agent_model_is_a_declared_setting_when_configured() -> None:
    stack = run_stack({"openaiEnabled": "false", "agentProvider": "anthropic", "agentModel": "claude-sonnet-4-5"})
    assert stack.app_settings["AGENT_MODEL"] == "claude-sonnet-4-5"
    assert runtime_app_settings(stack) <= set(RUNTIME_NAMES)
