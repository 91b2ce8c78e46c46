"""The app's Azure identity: ``DefaultAzureCredential``, which is the managed identity in Azure.

``AZURE_CLIENT_ID`` selects the user-assigned managed identity the Function App runs as; locally the same
credential falls through to a developer's ``az login`` / ``azd auth login``, so a real vault or resource can be
used from a laptop with no secret in a file. Imported only when a secret or an Azure resource is first used.
"""

from __future__ import annotations

from typing import Any

from ..errors import missing_extra


def default_credential(**kwargs: Any) -> Any:
    """A synchronous ``DefaultAzureCredential`` (for SDK clients that run in a worker thread)."""
    try:
        from azure.identity import DefaultAzureCredential
    except ModuleNotFoundError as exc:
        raise missing_extra("Azure identity", "identity", exc) from exc
    return DefaultAzureCredential(**kwargs)
