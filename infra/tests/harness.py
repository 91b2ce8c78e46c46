"""Run the Pulumi program (its real `__main__.py`) under `pulumi.runtime.set_mocks` and record everything.

No Pulumi CLI and no cloud: the mocks stand in for the engine and the Azure provider. They record each
resource's type, logical name and inputs (camelCase, as the provider receives them) and each provider
invoke, and answer with the outputs Azure would compute (IDs, endpoints, identity IDs).
"""

from __future__ import annotations

import os
import runpy
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime
import pulumi.runtime.settings

INFRA_DIR = Path(__file__).resolve().parents[1]
PROJECT = "azurefunctions-agents"
SUBSCRIPTION_ID = "11111111-2222-3333-4444-555555555555"
TENANT_ID = "99999999-8888-7777-6666-555555555555"
DEPLOYER_OBJECT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
DEFAULT_CONFIG = {"azure-native:location": "eastus2"}
DEFAULT_ENV = {"AZURE_ENV_NAME": "agents-dev"}

# The input that carries each type's name (Pulumi auto-naming is never used, so `name` must echo it).
NAME_INPUT = {
    "azure-native:resources:ResourceGroup": "resourceGroupName",
    "azure-native:managedidentity:UserAssignedIdentity": "resourceName",
    "azure-native:storage:StorageAccount": "accountName",
    "azure-native:storage:BlobContainer": "containerName",
    "azure-native:storage:Queue": "queueName",
    "azure-native:web:AppServicePlan": "name",
    "azure-native:web:WebApp": "name",
    "azure-native:web:WebAppFtpAllowed": "name",
    "azure-native:web:WebAppScmAllowed": "name",
    "azure-native:operationalinsights:Workspace": "workspaceName",
    "azure-native:applicationinsights:Component": "resourceName",
    "azure-native:keyvault:Vault": "vaultName",
    "azure-native:cosmosdb:DatabaseAccount": "accountName",
    "azure-native:cosmosdb:SqlResourceSqlDatabase": "databaseName",
    "azure-native:cosmosdb:SqlResourceSqlContainer": "containerName",
    "azure-native:cosmosdb:SqlResourceSqlRoleAssignment": "roleAssignmentId",
    "azure-native:cognitiveservices:Account": "accountName",
    "azure-native:cognitiveservices:Deployment": "deploymentName",
    "azure-native:authorization:RoleAssignment": "roleAssignmentName",
}

# ARM path of each top-level type, to give mocked resources realistic IDs.
ARM_PATH = {
    "azure-native:managedidentity:UserAssignedIdentity": "Microsoft.ManagedIdentity/userAssignedIdentities",
    "azure-native:storage:StorageAccount": "Microsoft.Storage/storageAccounts",
    "azure-native:web:AppServicePlan": "Microsoft.Web/serverfarms",
    "azure-native:web:WebApp": "Microsoft.Web/sites",
    "azure-native:operationalinsights:Workspace": "Microsoft.OperationalInsights/workspaces",
    "azure-native:applicationinsights:Component": "Microsoft.Insights/components",
    "azure-native:keyvault:Vault": "Microsoft.KeyVault/vaults",
    "azure-native:cosmosdb:DatabaseAccount": "Microsoft.DocumentDB/databaseAccounts",
    "azure-native:cognitiveservices:Account": "Microsoft.CognitiveServices/accounts",
}


@dataclass
class Resource:
    typ: str
    name: str
    inputs: dict[str, Any]
    id: str
    state: dict[str, Any]

    @property
    def short_type(self) -> str:
        return self.typ.rsplit(":", 1)[-1]


def _stable_guid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(parts)))


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Resource] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == "azure-native:authorization:getClientConfig":
            return {
                "clientId": "cccccccc-0000-0000-0000-000000000000",
                "objectId": DEPLOYER_OBJECT_ID,
                "subscriptionId": SUBSCRIPTION_ID,
                "tenantId": TENANT_ID,
            }, []
        return {}, []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        state = dict(inputs)
        name = inputs.get(NAME_INPUT.get(args.typ, "name")) or args.name
        state["name"] = name
        group = inputs.get("resourceGroupName", "")
        if args.typ == "azure-native:resources:ResourceGroup":
            rid = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{name}"
        elif args.typ in ARM_PATH:
            group_id = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{group}"
            rid = f"{group_id}/providers/{ARM_PATH[args.typ]}/{name}"
        elif args.typ == "azure-native:authorization:RoleAssignment":
            rid = f"{inputs['scope']}/providers/Microsoft.Authorization/roleAssignments/{name}"
        else:
            rid = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{group}/mock/{args.typ}/{name}"

        if args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            state["principalId"] = _stable_guid(name, "principal")
            state["clientId"] = _stable_guid(name, "client")
            state["tenantId"] = TENANT_ID
        elif args.typ == "azure-native:storage:StorageAccount":
            state["primaryEndpoints"] = {
                service: f"https://{name}.{service}.core.windows.net/" for service in ("blob", "queue", "table", "file")
            }
        elif args.typ == "azure-native:web:WebApp":
            state["defaultHostName"] = f"{name}.azurewebsites.net"
            identity = inputs.get("identity") or {}
            ids = identity.get("userAssignedIdentities") or []
            # Input: a list of identity IDs; output: a map of ID to its principal and client IDs.
            state["identity"] = {
                "type": identity.get("type"),
                "userAssignedIdentities": {
                    i: {"principalId": _stable_guid(i, "p"), "clientId": _stable_guid(i, "c")} for i in ids
                },
            }
        elif args.typ == "azure-native:applicationinsights:Component":
            state["connectionString"] = (
                f"InstrumentationKey={_stable_guid(name, 'ikey')};"
                f"IngestionEndpoint=https://{inputs.get('location')}-1.in.applicationinsights.azure.com/;"
                f"ApplicationId={_stable_guid(name, 'app')}"
            )
        elif args.typ == "azure-native:cosmosdb:DatabaseAccount":
            state["documentEndpoint"] = f"https://{name}.documents.azure.com:443/"
        elif args.typ == "azure-native:keyvault:Vault":
            state["properties"] = {
                **inputs.get("properties", {}),
                "vaultUri": f"https://{name}.vault.azure.net/",
            }
        elif args.typ == "azure-native:cognitiveservices:Account":
            sub_domain = inputs.get("properties", {}).get("customSubDomainName")
            state["properties"] = {
                **inputs.get("properties", {}),
                "endpoint": f"https://{sub_domain}.openai.azure.com/",
            }
        self.resources.append(Resource(args.typ, args.name, inputs, rid, state))
        return rid, state


@dataclass
class Deployment:
    resources: list[Resource]
    calls: list[tuple[str, dict[str, Any]]]
    outputs: dict[str, Any]
    config: dict[str, str] = field(default_factory=dict)

    def of_type(self, short_type: str) -> list[Resource]:
        return [r for r in self.resources if r.short_type == short_type]

    def one(self, short_type: str) -> Resource:
        found = self.of_type(short_type)
        assert len(found) == 1, f"expected one {short_type}, found {len(found)}"
        return found[0]

    def by_id(self, resource_id: str) -> Resource:
        found = [r for r in self.resources if r.id == resource_id]
        assert len(found) == 1, f"no resource with ID {resource_id}"
        return found[0]

    @property
    def app_settings(self) -> dict[str, str]:
        site = self.one("WebApp")
        return {s["name"]: s["value"] for s in site.inputs["siteConfig"]["appSettings"]}


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    keys = {
        "AZURE_ENV_NAME",
        "AZURE_LOCATION",
        "AZURE_PRINCIPAL_TYPE",
        "CI",
        "GITHUB_ACTIONS",
        "TF_BUILD",
        *values,
    }
    saved = {key: os.environ.get(key) for key in keys}
    for key in keys:
        os.environ.pop(key, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_stack(
    config: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    base_config: Mapping[str, str] = DEFAULT_CONFIG,
    stack: str = "dev",
) -> Deployment:
    """Run infra/__main__.py under mocks. `config` keys without a ':' are this project's keys."""
    full_config = dict(base_config)
    for key, value in (config or {}).items():
        full_config[key if ":" in key else f"{PROJECT}:{key}"] = value
    mocks = RecordingMocks()
    # A fresh root stack per run, or outputs exported by an earlier run would leak into this one.
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
    pulumi.runtime.set_all_config(full_config)
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        runpy.run_path(str(INFRA_DIR / "__main__.py"), run_name="__main__")
        stack_resource = pulumi.runtime.get_root_resource()
        exported = dict(stack_resource.outputs)  # type: ignore[union-attr]
        return pulumi.Output.all(**exported).apply(outputs.update)

    with _environment(DEFAULT_ENV if env is None else env):
        program()
    return Deployment(mocks.resources, mocks.calls, outputs, full_config)
