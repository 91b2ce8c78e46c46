"""Role assignments: every grant the stack makes, each at the narrowest scope that works.

The role definition IDs are Azure built-in roles (the same GUID in every tenant). Names are deterministic
(`naming.role_assignment_name`), so re-running the program never duplicates or replaces a grant.
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization, cosmosdb

from . import naming

STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
KEY_VAULT_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
COGNITIVE_SERVICES_OPENAI_USER = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
# Cosmos DB data-plane (SQL) built-in role, defined per account.
COSMOS_DATA_CONTRIBUTOR = "00000000-0000-0000-0000-000000000002"

ROLE_NAMES = {
    STORAGE_BLOB_DATA_OWNER: "Storage Blob Data Owner",
    STORAGE_QUEUE_DATA_CONTRIBUTOR: "Storage Queue Data Contributor",
    MONITORING_METRICS_PUBLISHER: "Monitoring Metrics Publisher",
    KEY_VAULT_SECRETS_USER: "Key Vault Secrets User",
    KEY_VAULT_SECRETS_OFFICER: "Key Vault Secrets Officer",
    COGNITIVE_SERVICES_OPENAI_USER: "Cognitive Services OpenAI User",
    COSMOS_DATA_CONTRIBUTOR: "Cosmos DB Built-in Data Contributor",
}


def assign(
    logical_name: str,
    *,
    subscription_id: str,
    role_id: str,
    principal_id: pulumi.Input[str],
    principal_key: str,
    principal_type: str,
    scope: pulumi.Input[str],
    scope_key: str,
    parent: pulumi.Resource | None = None,
) -> authorization.RoleAssignment:
    """Grant an ARM role.

    `principal_key` and `scope_key` are values known before deployment (the identity's predicted resource ID,
    the deployer's object ID, the scope's predicted resource ID) that make the assignment name stable.
    `principal_type` is always explicit: for a just-created managed identity it spares ARM an Entra ID lookup
    that fails with PrincipalNotFound until the identity has replicated, and the provider's default ("User")
    is wrong for service principals.
    """
    return authorization.RoleAssignment(
        logical_name,
        role_assignment_name=naming.role_assignment_name(scope_key, principal_key, role_id),
        principal_id=principal_id,
        principal_type=principal_type,
        role_definition_id=(
            f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_id}"
        ),
        scope=scope,
        opts=pulumi.ResourceOptions(parent=parent) if parent is not None else None,
    )


def assign_cosmos_data(
    logical_name: str,
    *,
    resource_group_name: pulumi.Input[str],
    account: cosmosdb.DatabaseAccount,
    database_name: str,
    principal_id: pulumi.Input[str],
    principal_key: str,
    account_key: str,
) -> cosmosdb.SqlResourceSqlRoleAssignment:
    """Grant the Cosmos DB data-plane Data Contributor role on one database (not the whole account)."""
    scope_key = f"{account_key}/dbs/{database_name}"
    return cosmosdb.SqlResourceSqlRoleAssignment(
        logical_name,
        account_name=account.name,
        resource_group_name=resource_group_name,
        role_assignment_id=naming.role_assignment_name(scope_key, principal_key, COSMOS_DATA_CONTRIBUTOR),
        role_definition_id=account.id.apply(lambda i: f"{i}/sqlRoleDefinitions/{COSMOS_DATA_CONTRIBUTOR}"),
        principal_id=principal_id,
        scope=account.id.apply(lambda i: f"{i}/dbs/{database_name}"),
    )
