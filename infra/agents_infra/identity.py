"""The one user-assigned managed identity the Function App runs as.

One identity for host storage, deployment, telemetry, secrets, state and the model: it exists before the app
(so roles can be granted before the first start) and survives app re-creation, unlike a system identity.
"""

from __future__ import annotations

from pulumi_azure_native import managedidentity

from .context import Context


def create(ctx: Context) -> managedidentity.UserAssignedIdentity:
    return managedidentity.UserAssignedIdentity(
        "identity",
        resource_name_=ctx.names.identity,
        resource_group_name=ctx.resource_group_name,
        location=ctx.location,
        tags=ctx.tags,
    )


def arm_id(ctx: Context) -> str:
    return ctx.arm_id(f"Microsoft.ManagedIdentity/userAssignedIdentities/{ctx.names.identity}")
