"""Resource names: deterministic, distinct per environment, and within each Azure type's limits."""

from __future__ import annotations

import re

import pytest
from agents_infra import naming

SUB = "11111111-2222-3333-4444-555555555555"
ODD_ENV_NAMES = [
    "a",
    "dev",
    "Agents-PROD",
    "team_one.dev",
    "x(1)",
    "ends-with-dot.",
    "a" * 64,
    "0123456789-" * 5 + "abcdefghi",
]

# Azure's rules per resource type.
LIMITS = {
    "resource_group": re.compile(r"^[-\w.()]{1,89}[-\w()]$"),
    "identity": re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$"),
    "storage_account": re.compile(r"^[a-z0-9]{3,24}$"),
    "deployment_container": re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"),
    "plan": re.compile(r"^[a-zA-Z0-9-]{1,60}$"),
    "function_app": re.compile(r"^[a-z0-9][a-z0-9-]{0,58}[a-z0-9]$"),
    "log_workspace": re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{2,61}[a-zA-Z0-9]$"),
    "app_insights": re.compile(r"^[^%&\\?/]{1,260}$"),
    "key_vault": re.compile(r"^(?!.*--)[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$"),
    "cosmos_account": re.compile(r"^[a-z0-9][a-z0-9-]{1,42}[a-z0-9]$"),
    "openai_account": re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}[a-zA-Z0-9]$"),
}


@pytest.mark.parametrize("env_name", ODD_ENV_NAMES)
@pytest.mark.parametrize("field", sorted(LIMITS))
def test_names_fit_azure_limits(env_name: str, field: str) -> None:
    names = naming.ResourceNames.create(SUB, env_name, "eastus2")
    value = getattr(names, field)
    assert LIMITS[field].match(value), f"{field}={value!r}"


def test_names_are_deterministic_and_differ_per_environment_location_and_subscription() -> None:
    base = naming.ResourceNames.create(SUB, "dev", "eastus2")
    assert base == naming.ResourceNames.create(SUB, "dev", "eastus2")
    # Case of the inputs does not matter (Azure names are case-insensitive).
    assert base.storage_account == naming.ResourceNames.create(SUB.upper(), "DEV", "EastUS2").storage_account
    others = [
        naming.ResourceNames.create(SUB, "prod", "eastus2"),
        naming.ResourceNames.create(SUB, "dev", "westus3"),
        naming.ResourceNames.create("22222222-2222-3333-4444-555555555555", "dev", "eastus2"),
    ]
    for other in others:
        assert other.storage_account != base.storage_account
        assert other.key_vault != base.key_vault


def test_token_shape() -> None:
    token = naming.resource_token(SUB, "dev", "eastus2")
    assert re.fullmatch(r"[a-z2-7]{13}", token)


def test_resource_group_drops_a_trailing_dot() -> None:
    assert naming.resource_group_name("dev.") == "rg-dev"


@pytest.mark.parametrize("bad", ["", "has space", "a" * 65, "slash/name", "ünïcode"])
def test_invalid_environment_names_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="environment name"):
        naming.validate_env_name(bad)


def test_role_assignment_names_depend_on_scope_principal_and_role() -> None:
    one = naming.role_assignment_name("/scope/a", "principal", "role")
    assert one == naming.role_assignment_name("/SCOPE/A", "PRINCIPAL", "role")
    assert one != naming.role_assignment_name("/scope/b", "principal", "role")
    assert one != naming.role_assignment_name("/scope/a", "other", "role")
    assert one != naming.role_assignment_name("/scope/a", "principal", "other-role")
