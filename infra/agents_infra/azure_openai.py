"""Azure OpenAI: an `OpenAI` Cognitive Services account with local auth off, and one model deployment.

With local auth disabled no API key works: the app calls the deployment with its managed identity (the
Cognitive Services OpenAI User role), so the deployed sample runs with no key anywhere. The custom subdomain
is required for Entra ID authentication.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import cognitiveservices

from .config import OpenAIConfig
from .context import Context


@dataclass(frozen=True)
class AzureOpenAI:
    account: cognitiveservices.Account
    deployment: cognitiveservices.Deployment
    endpoint: pulumi.Output[str]


def create(ctx: Context, settings: OpenAIConfig) -> AzureOpenAI:
    account = cognitiveservices.Account(
        "openai",
        account_name=ctx.names.openai_account,
        resource_group_name=ctx.resource_group_name,
        location=settings.location,
        kind="OpenAI",
        sku={"name": "S0"},
        properties={
            "custom_sub_domain_name": ctx.names.openai_account,
            "disable_local_auth": True,
            "public_network_access": "Enabled",
        },
        tags=ctx.tags,
    )
    deployment = cognitiveservices.Deployment(
        "openai-deployment",
        account_name=account.name,
        resource_group_name=ctx.resource_group_name,
        deployment_name=settings.deployment_name,
        properties={
            "model": {"format": "OpenAI", "name": settings.model, "version": settings.model_version},
            "version_upgrade_option": "OnceNewDefaultVersionAvailable",
        },
        sku={"name": settings.sku, "capacity": settings.capacity},
    )
    return AzureOpenAI(
        account=account,
        deployment=deployment,
        endpoint=account.properties.apply(lambda p: p.endpoint),
    )


def arm_id(ctx: Context) -> str:
    return ctx.arm_id(f"Microsoft.CognitiveServices/accounts/{ctx.names.openai_account}")
