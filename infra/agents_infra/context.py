"""What every resource module needs: the validated config, the names, the resource group and the tags."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from . import naming
from .config import StackConfig


@dataclass(frozen=True)
class Context:
    config: StackConfig
    names: naming.ResourceNames
    resource_group_name: pulumi.Output[str]

    @property
    def location(self) -> str:
        return self.config.location

    @property
    def tags(self) -> dict[str, str]:
        """Tags on every resource: azd finds the environment's resources (and its group) by `azd-env-name`."""
        return {"azd-env-name": self.config.env_name}

    def arm_id(self, provider_path: str) -> str:
        """The predicted ARM ID of a resource of this environment's group (known before it exists)."""
        return naming.arm_id(self.config.subscription_id, self.names.resource_group, provider_path)
