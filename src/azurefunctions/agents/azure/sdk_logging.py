"""The Azure SDKs' HTTP logging, kept at WARNING unless asked for.

azure-core's ``HttpLoggingPolicy`` (and Cosmos DB's ``CosmosHttpLoggingPolicy``) log every request and response,
headers included, at INFO. The Functions host collects a Python app's records from INFO up and sends them to
Application Insights, so a Cosmos DB-backed app would otherwise ingest (and pay for) several records per turn
that say nothing the runtime's own telemetry does not. ``AGENTS_AZURE_SDK_HTTP_LOG_LEVEL`` asks for another level;
a level the application set on these loggers itself is left alone.
"""

from __future__ import annotations

import logging

from .. import settings
from ..errors import ConfigurationError

#: The loggers of the Azure SDKs' HTTP logging policies.
HTTP_LOGGERS = (
    "azure.core.pipeline.policies.http_logging_policy",
    "azure.cosmos._cosmos_http_logging_policy",
)


def http_log_level() -> int:
    """The level ``AGENTS_AZURE_SDK_HTTP_LOG_LEVEL`` names (``ConfigurationError`` naming it otherwise)."""
    name = (settings.AZURE_SDK_HTTP_LOG_LEVEL.get() or "WARNING").upper()
    level = logging.getLevelName(name)
    if not isinstance(level, int):
        raise ConfigurationError(
            f"{settings.AZURE_SDK_HTTP_LOG_LEVEL.name} must be a logging level such as WARNING, INFO or DEBUG, "
            f"got {name!r}"
        )
    return level


def quiet_http_logging() -> None:
    """Set the HTTP logging policies' loggers to the configured level, unless the application set one."""
    level = http_log_level()
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(level)
