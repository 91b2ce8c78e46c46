"""Resource names, derived the way azd derives them, within each resource type's limits.

azd templates name resources `<abbreviation><token>`, where the token is a short deterministic hash of the
subscription, environment and location. The same inputs always give the same names (so a re-run updates in
place), and two environments never collide. Every name is explicit: Pulumi auto-naming would add random
suffixes and break that determinism.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from dataclasses import dataclass

TOKEN_LENGTH = 13

# azd's own rule for environment names (letters, digits, '-', '_', '.', '(' and ')', at most 64).
_ENV_NAME = re.compile(r"^[A-Za-z0-9\-_.()]{1,64}$")

# Fixed namespace for role-assignment names, so they are stable across runs and machines.
ROLE_ASSIGNMENT_NAMESPACE = uuid.UUID("6f1d3a0e-5b7c-5d2e-9a4f-0c8b1e2d3f4a")


def validate_env_name(env_name: str) -> str:
    """Return `env_name` if azd would accept it, else raise naming the rule."""
    if not _ENV_NAME.match(env_name):
        raise ValueError(
            f"environment name {env_name!r} is invalid: use 1-64 letters, digits, '-', '_', '.', '(' or ')'"
        )
    return env_name


def resource_token(subscription_id: str, env_name: str, location: str) -> str:
    """A 13-character `[a-z2-7]` token, deterministic per (subscription, environment, location)."""
    seed = "|".join((subscription_id.lower(), env_name.lower(), location.lower()))
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:TOKEN_LENGTH]


def short_hash(value: str, length: int = 7) -> str:
    """A short lowercase hex hash, used where a name must be unique but stay short."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:length]


def resource_group_name(env_name: str) -> str:
    """`rg-<env>`: resource group names allow 1-90 of `[A-Za-z0-9-_.()]`, not ending in '.'."""
    name = f"rg-{validate_env_name(env_name)}"[:90]
    return name.rstrip(".")


@dataclass(frozen=True)
class ResourceNames:
    """Every resource name of one environment."""

    resource_group: str
    identity: str
    storage_account: str
    deployment_container: str
    plan: str
    function_app: str
    log_workspace: str
    app_insights: str
    key_vault: str
    cosmos_account: str
    openai_account: str

    @classmethod
    def create(cls, subscription_id: str, env_name: str, location: str) -> ResourceNames:
        token = resource_token(subscription_id, env_name, location)
        function_app = f"func-api-{token}"
        return cls(
            resource_group=resource_group_name(env_name),
            identity=f"id-api-{token}",
            storage_account=f"st{token}",
            # The Flex quickstart's formula: app-package-<app name, 32 chars>-<7-char hash>.
            deployment_container=f"app-package-{function_app[:32]}-{short_hash(function_app)}",
            plan=f"plan-{token}",
            function_app=function_app,
            log_workspace=f"log-{token}",
            app_insights=f"appi-{token}",
            key_vault=f"kv{token}",
            cosmos_account=f"cosmos-{token}",
            openai_account=f"oai-{token}",
        )


def arm_id(subscription_id: str, resource_group: str, provider_path: str) -> str:
    """The ARM resource ID of `provider_path` (e.g. `Microsoft.KeyVault/vaults/kv1`) in a resource group."""
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{provider_path}"


def role_assignment_name(scope_id: str, principal_key: str, role_id: str) -> str:
    """A stable GUID for one (scope, principal, role), as Bicep's `guid(scope, principal, role)` gives.

    Renaming a role assignment replaces it, so the name must depend only on what the assignment grants.
    `scope_id` and `principal_key` are known before anything is created (predicted ARM IDs), so `pulumi
    preview` shows the real names.
    """
    return str(uuid.uuid5(ROLE_ASSIGNMENT_NAMESPACE, f"{scope_id.lower()}|{principal_key.lower()}|{role_id}"))
