"""Log Analytics and workspace-based Application Insights with local (key) auth disabled.

With `disable_local_auth` the instrumentation key in the connection string cannot ingest anything: telemetry
is accepted only with an Entra token, which the app gets from its identity
(`APPLICATIONINSIGHTS_AUTHENTICATION_STRING`) and the Monitoring Metrics Publisher role.
"""

from __future__ import annotations

from dataclasses import dataclass

from pulumi_azure_native import applicationinsights, operationalinsights

from .context import Context


@dataclass(frozen=True)
class Monitoring:
    workspace: operationalinsights.Workspace
    component: applicationinsights.Component


def create(ctx: Context) -> Monitoring:
    workspace = operationalinsights.Workspace(
        "log-workspace",
        workspace_name=ctx.names.log_workspace,
        resource_group_name=ctx.resource_group_name,
        location=ctx.location,
        sku={"name": "PerGB2018"},
        retention_in_days=30,
        # Entra ID only: no workspace shared keys (App Insights ingests with Entra too, disable_local_auth below).
        features={"disable_local_auth": True},
        tags=ctx.tags,
    )
    component = applicationinsights.Component(
        "app-insights",
        resource_name_=ctx.names.app_insights,
        resource_group_name=ctx.resource_group_name,
        location=ctx.location,
        kind="web",
        application_type="web",
        workspace_resource_id=workspace.id,
        ingestion_mode="LogAnalytics",
        disable_local_auth=True,
        tags=ctx.tags,
    )
    return Monitoring(workspace=workspace, component=component)


def component_arm_id(ctx: Context) -> str:
    return ctx.arm_id(f"Microsoft.Insights/components/{ctx.names.app_insights}")
