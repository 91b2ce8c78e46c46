"""Role assignments: exactly these grants, each at the narrowest scope, with stable names.

The expected table is written out here (GUIDs of Azure built-in roles) rather than imported from the
program, so adding a role, widening one (another role definition) or scoping one higher (the group or the
subscription instead of the resource) fails this test.
"""

from __future__ import annotations

import pytest

from tests.harness import DEPLOYER_OBJECT_ID, SUBSCRIPTION_ID, Deployment, run_stack

BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
OPENAI_USER = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
COSMOS_DATA_CONTRIBUTOR = "00000000-0000-0000-0000-000000000002"


def arm_grants(stack: Deployment) -> set[tuple[str, str, str, str | None]]:
    """(principal, role GUID, scope resource type, principal type) of every ARM role assignment."""
    principal_of = {
        stack.one("UserAssignedIdentity").state["principalId"]: "app",
        DEPLOYER_OBJECT_ID: "deployer",
    }
    grants = set()
    for assignment in stack.of_type("RoleAssignment"):
        inputs = assignment.inputs
        prefix = f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/"
        assert inputs["roleDefinitionId"].startswith(prefix)
        role = inputs["roleDefinitionId"][len(prefix) :]
        scope = stack.by_id(inputs["scope"]).short_type  # fails if scoped to the group or subscription
        grants.add((principal_of[inputs["principalId"]], role, scope, inputs.get("principalType")))
    return grants


def test_arm_roles_are_exactly_these(default_stack: Deployment) -> None:
    assert arm_grants(default_stack) == {
        ("app", BLOB_DATA_OWNER, "StorageAccount", "ServicePrincipal"),
        ("app", QUEUE_DATA_CONTRIBUTOR, "StorageAccount", "ServicePrincipal"),
        ("app", METRICS_PUBLISHER, "Component", "ServicePrincipal"),
        ("app", SECRETS_USER, "Vault", "ServicePrincipal"),
        ("app", OPENAI_USER, "Account", "ServicePrincipal"),
        ("deployer", SECRETS_OFFICER, "Vault", "User"),
    }
    assert len(default_stack.of_type("RoleAssignment")) == 6


def test_app_roles_go_to_the_identity_the_app_runs_as(default_stack: Deployment) -> None:
    principal_id = default_stack.one("UserAssignedIdentity").state["principalId"]
    for short_type in ("RoleAssignment", "SqlResourceSqlRoleAssignment"):
        principals = {a.inputs["principalId"] for a in default_stack.of_type(short_type)}
        assert principals == {principal_id, DEPLOYER_OBJECT_ID}


def test_cosmos_data_roles_are_database_scoped(default_stack: Deployment) -> None:
    account = default_stack.one("DatabaseAccount")
    assignments = default_stack.of_type("SqlResourceSqlRoleAssignment")
    found = set()
    for assignment in assignments:
        inputs = assignment.inputs
        assert inputs["roleDefinitionId"] == f"{account.id}/sqlRoleDefinitions/{COSMOS_DATA_CONTRIBUTOR}"
        # The database, not the account: the narrowest scope the SQL role system offers for this use.
        assert inputs["scope"] == f"{account.id}/dbs/agents"
        assert inputs["accountName"] == account.inputs["accountName"]
        found.add("deployer" if inputs["principalId"] == DEPLOYER_OBJECT_ID else "app")
    assert found == {"app", "deployer"}
    assert len(assignments) == 2


def test_deployer_cosmos_access_can_be_switched_off() -> None:
    stack = run_stack({"deployerCosmosAccess": "false"})
    principals = [a.inputs["principalId"] for a in stack.of_type("SqlResourceSqlRoleAssignment")]
    assert len(principals) == 1 and DEPLOYER_OBJECT_ID not in principals


def test_deployer_principal_and_type_come_from_config() -> None:
    other = "12345678-1234-1234-1234-123456789012"
    stack = run_stack({"deployerPrincipalId": other, "deployerPrincipalType": "User"})
    officer = [a for a in stack.of_type("RoleAssignment") if a.inputs["roleDefinitionId"].endswith(SECRETS_OFFICER)]
    assert [(a.inputs["principalId"], a.inputs.get("principalType")) for a in officer] == [(other, "User")]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GITHUB_ACTIONS": "true"}, "ServicePrincipal"),
        ({"AZURE_PRINCIPAL_TYPE": "Group"}, "Group"),
        ({}, "User"),
    ],
)
def test_deployer_principal_type_defaults_to_the_kind_of_login(env: dict[str, str], expected: str) -> None:
    stack = run_stack(env={"AZURE_ENV_NAME": "agents-dev", **env})
    officer = [a for a in stack.of_type("RoleAssignment") if a.inputs["principalId"] == DEPLOYER_OBJECT_ID]
    assert [a.inputs["principalType"] for a in officer] == [expected]


def test_assignment_names_are_stable_guids_and_unique(default_stack: Deployment) -> None:
    again = run_stack()
    names = sorted(a.inputs["roleAssignmentName"] for a in default_stack.of_type("RoleAssignment"))
    assert names == sorted(a.inputs["roleAssignmentName"] for a in again.of_type("RoleAssignment"))
    cosmos_ids = sorted(a.inputs["roleAssignmentId"] for a in default_stack.of_type("SqlResourceSqlRoleAssignment"))
    assert len(set(names + cosmos_ids)) == len(names) + len(cosmos_ids)
    for name in names + cosmos_ids:
        assert len(name) == 36 and name.count("-") == 4


@pytest.mark.parametrize("changed", [{"AZURE_ENV_NAME": "agents-prod"}])
def test_assignment_names_differ_between_environments(default_stack: Deployment, changed: dict[str, str]) -> None:
    other = run_stack(env=changed)
    mine = {a.inputs["roleAssignmentName"] for a in default_stack.of_type("RoleAssignment")}
    theirs = {a.inputs["roleAssignmentName"] for a in other.of_type("RoleAssignment")}
    assert not mine & theirs
