"""Every environment setting the runtime reads, named once.

The infrastructure's app settings and stack outputs, the README's configuration table and the samples all use
these names, so a rename happens here and nowhere else. This module imports nothing beyond the standard
library: the infrastructure tests import it from a different virtual environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    """One environment setting: its name, what it is for, its default, and who provides it."""

    name: str
    description: str
    default: str | None = None
    group: str = "runtime"
    secret: bool = False
    provisioned: bool = False  # set as an app setting by the infrastructure

    def get(self, environ: os._Environ[str] | dict[str, str] | None = None) -> str | None:
        value = (os.environ if environ is None else environ).get(self.name)
        if value is None or value.strip() == "":
            return self.default
        return value.strip()


# Model selection
AGENT_PROVIDER = Setting(
    "AGENT_PROVIDER",
    "Model provider of the samples: openai, azure_openai, anthropic, google, ollama or offline. "
    "Unset: Azure OpenAI when AZURE_OPENAI_ENDPOINT is set, else OpenAI when OPENAI_API_KEY is set, "
    "else the labelled offline model (locally only).",
    group="model",
    provisioned=True,
)
AGENT_MODEL = Setting(
    "AGENT_MODEL", "Model name used by the samples (overrides each sample's default).", group="model"
)
OPENAI_API_KEY = Setting("OPENAI_API_KEY", "OpenAI API key.", group="model", secret=True)
OPENAI_BASE_URL = Setting(
    "OPENAI_BASE_URL", "OpenAI-compatible endpoint (the openai SDK's own variable).", group="model"
)
AZURE_OPENAI_ENDPOINT = Setting(
    "AZURE_OPENAI_ENDPOINT", "Azure OpenAI endpoint, https://<resource>.openai.azure.com/.", group="model",
    provisioned=True,
)
AZURE_OPENAI_API_KEY = Setting(
    "AZURE_OPENAI_API_KEY", "Azure OpenAI key. Unset: Entra ID (managed identity) is used.", group="model",
    secret=True,
)
AZURE_OPENAI_API_VERSION = Setting(
    "AZURE_OPENAI_API_VERSION",
    "Azure OpenAI API version. Unset or 'v1': the v1 API ({endpoint}/openai/v1/); a dated version such as "
    "2024-10-21: the deployments path.", group="model"
)
AZURE_OPENAI_DEPLOYMENT = Setting(
    "AZURE_OPENAI_DEPLOYMENT", "Azure OpenAI deployment name used as the model.", group="model",
    provisioned=True,
)
ANTHROPIC_API_KEY = Setting("ANTHROPIC_API_KEY", "Anthropic API key.", group="model", secret=True)
ANTHROPIC_BASE_URL = Setting("ANTHROPIC_BASE_URL", "Anthropic endpoint override.", group="model")
GOOGLE_API_KEY = Setting("GOOGLE_API_KEY", "Google Gemini API key.", group="model", secret=True)
GOOGLE_GEMINI_BASE_URL = Setting("GOOGLE_GEMINI_BASE_URL", "Gemini endpoint override.", group="model")
OLLAMA_HOST = Setting("OLLAMA_HOST", "Ollama server URL.", default="http://127.0.0.1:11434", group="model")

# Azure platform and identity
AZURE_CLIENT_ID = Setting(
    "AZURE_CLIENT_ID", "Client ID of the user-assigned managed identity the app runs as.", group="azure",
    provisioned=True,
)
AZURE_KEY_VAULT_ENDPOINT = Setting(
    "AZURE_KEY_VAULT_ENDPOINT",
    "Key Vault URI. Set: provider keys missing from the environment are read from the secret "
    "<provider>-api-key with managed identity.",
    group="azure",
    provisioned=True,
)
APPLICATIONINSIGHTS_CONNECTION_STRING = Setting(
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "Application Insights connection string (no key: ingestion uses Entra ID). Set: telemetry is on.",
    group="telemetry",
    provisioned=True,
)
APPLICATIONINSIGHTS_AUTHENTICATION_STRING = Setting(
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "ClientId=<identity client id>;Authorization=AAD: Entra ID ingestion.",
    group="telemetry",
    provisioned=True,
)
CAPTURE_MESSAGE_CONTENT = Setting(
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
    "true records message content, tool arguments and results in spans (off by default).",
    default="false",
    group="telemetry",
)
AZURE_SDK_HTTP_LOG_LEVEL = Setting(
    "AGENTS_AZURE_SDK_HTTP_LOG_LEVEL",
    "Level of the Azure SDKs' HTTP request logging (INFO logs every request's headers; WARNING by default).",
    default="WARNING",
    group="telemetry",
)
TELEMETRY_LIVE_METRICS = Setting(
    "AGENTS_TELEMETRY_LIVE_METRICS",
    "false turns off Application Insights Live Metrics (on by default when telemetry goes to Application "
    "Insights and the Azure Monitor distro is installed: extra monitor-live).",
    default="true",
    group="telemetry",
)
WEBSITE_INSTANCE_ID = Setting(
    "WEBSITE_INSTANCE_ID", "Set by the platform in Azure; tells the runtime it is not running locally.",
    group="platform",
)

# Conversation state
COSMOS_ENDPOINT = Setting(
    "COSMOS_ENDPOINT", "Cosmos DB account endpoint. Set: sessions live in Cosmos DB.", group="state",
    provisioned=True,
)
COSMOS_DATABASE = Setting("COSMOS_DATABASE", "Cosmos DB database.", default="agents", group="state",
                          provisioned=True)
COSMOS_CONTAINER = Setting("COSMOS_CONTAINER", "Cosmos DB container (partition key /pk).", default="state",
                           group="state", provisioned=True)
SESSION_DB_PATH = Setting(
    "AGENTS_SESSION_DB",
    "SQLite file of the embedded session store used locally.",
    default=".agents-data/sessions.sqlite3",
    group="state",
)
SESSION_TTL_SECONDS = Setting(
    "AGENTS_SESSION_TTL_SECONDS", "Idle sessions expire after this many seconds.", default="2592000",
    group="state",
)

# HTTP
MAX_BODY_BYTES = Setting(
    "AGENTS_MAX_BODY_BYTES", "Largest accepted request body in bytes (413 above).", default="1048576",
    group="http",
)
PUBLIC_URL = Setting(
    "AGENTS_PUBLIC_URL", "Public base URL of the app (cards, links). Unset: taken from the request.",
    group="http",
)

# Limits (every limit and its setting: docs/limits.md)
MAX_MESSAGE_CHARS = Setting(
    "AGENTS_MAX_MESSAGE_CHARS", "Longest accepted chat message in characters (400 message_too_long above).",
    default="100000", group="limits",
)
MAX_TOOL_CALLS_PER_MODEL_TURN = Setting(
    "AGENTS_MAX_TOOL_CALLS_PER_MODEL_TURN",
    "Most tool calls run from one model answer; the calls beyond it get an error result instead of running.",
    default="16", group="limits",
)
TURN_TIMEOUT_SECONDS = Setting(
    "AGENTS_TURN_TIMEOUT_SECONDS",
    "Longest an HTTP turn may take before it is answered 504 turn_timeout (the platform's front end cuts "
    "HTTP responses at 230 s).",
    default="220", group="limits",
)
MAX_CONCURRENT_TURNS = Setting(
    "AGENTS_MAX_CONCURRENT_TURNS",
    "Most turns (chat, MCP and A2A calls) one instance runs at once; above it the answer is 503 too_busy "
    "with Retry-After, so the platform's scale-out takes the load.",
    default="64", group="limits",
)

# Entra ID through App Service Authentication (Easy Auth; see docs/security.md)
AUTH_MODE = Setting(
    "AGENTS_AUTH",
    "entra: every route but health, openapi.json and the agent cards needs a caller signed in with Entra ID "
    "through App Service Authentication (AgentFunctionApp(auth=...) wins over this setting).",
    group="auth",
)
AUTH_TENANT_ID = Setting(
    "AGENTS_AUTH_TENANT_ID", "Entra tenant (directory) id callers must belong to.", group="auth",
)
AUTH_AUDIENCES = Setting(
    "AGENTS_AUTH_AUDIENCES",
    "Comma-separated token audiences accepted (the app registration's client id and/or api://... URI).",
    group="auth",
)
AUTH_ALLOWED_CLIENT_IDS = Setting(
    "AGENTS_AUTH_ALLOWED_CLIENT_IDS",
    "Comma-separated client (application) ids allowed to call (azp/appid claim). Unset: any client.",
    group="auth",
)
AUTH_ALLOWED_GROUPS = Setting(
    "AGENTS_AUTH_ALLOWED_GROUPS",
    "Comma-separated group object ids; when set, a caller must be in one of them (or hold an allowed role).",
    group="auth",
)
AUTH_ALLOWED_ROLES = Setting(
    "AGENTS_AUTH_ALLOWED_ROLES",
    "Comma-separated app roles; when set, a caller must hold one of them (or be in an allowed group).",
    group="auth",
)
WEBSITE_AUTH_ENABLED = Setting(
    "WEBSITE_AUTH_ENABLED",
    "Set to True by the platform when App Service Authentication is on; only then are its identity headers "
    "trusted.",
    group="platform",
)


# Background work (queue-triggered turns; see docs/background.md)
AGENTS_WORK_QUEUE = Setting("AGENTS_WORK_QUEUE", "Storage queue of background turns.", default="agent-turns",
                            group="background", provisioned=True)
WORK_QUEUE_CONNECTION = Setting(
    "AzureWebJobsStorage",
    "Storage connection of the work queue (the default connection name): a connection string or "
    "UseDevelopmentStorage=true locally; in Azure the identity-based AzureWebJobsStorage__queueServiceUri "
    "(or __accountName) with __credential=managedidentity and __clientId.",
    group="background",
)
TURN_LEASE_SECONDS = Setting(
    "AGENTS_TURN_LEASE_SECONDS",
    "How long a running turn's claim (a background turn's record, any turn's journal) lasts without renewal; a "
    "turn whose worker stopped is taken over once it lapses.",
    default="120",
    group="background",
)
TURN_MAX_ATTEMPTS = Setting(
    "AGENTS_TURN_MAX_ATTEMPTS",
    "Most times a background turn is started (a worker that stopped mid-turn counts); then it ends failed.",
    default="3",
    group="background",
)
TURN_TTL_SECONDS = Setting(
    "AGENTS_TURN_TTL_SECONDS", "How long the status and answer of a background turn are kept.",
    default="604800", group="background",
)
APPROVAL_TIMEOUT_SECONDS = Setting(
    "AGENTS_APPROVAL_TIMEOUT_SECONDS",
    "How long a tool call waits for a person's approval; after that it counts as refused (docs/approvals.md).",
    default="86400", group="state",
)
LOCAL_QUEUE_VISIBILITY_SECONDS = Setting(
    "AGENTS_LOCAL_QUEUE_VISIBILITY_SECONDS",
    "Local host: how long a received queue message stays invisible while its function runs (renewed "
    "while it runs, as the platform does).",
    default="600",
    group="local",
)
LOCAL_QUEUE_POLL_SECONDS = Setting(
    "AGENTS_LOCAL_QUEUE_POLL_SECONDS",
    "Local host: longest wait between polls of an empty queue (host.json maxPollingInterval when lower).",
    default="2",
    group="local",
)

def all_settings() -> list[Setting]:
    """Every setting declared above, in declaration order."""
    return [value for value in globals().values() if isinstance(value, Setting)]


def running_in_azure() -> bool:
    """True on the Functions platform, where the offline model is never chosen silently."""
    return WEBSITE_INSTANCE_ID.get() is not None


def get_list(setting: Setting) -> list[str]:
    """A comma-separated setting as a list of its non-empty, stripped items."""
    return [item.strip() for item in (setting.get() or "").split(",") if item.strip()]


def get_int(setting: Setting) -> int:
    """An integer setting, with an error that names the variable when it is not one."""
    raw = setting.get()
    try:
        return int(raw or "")
    except ValueError:
        raise ValueError(f"{setting.name} must be an integer, got {raw!r}") from None


# A2A (docs/a2a.md)
A2A_PUSH_ALLOWED_HOSTS = Setting(
    "A2A_PUSH_ALLOWED_HOSTS",
    "Comma-separated hosts (names or addresses) that A2A push-notification webhooks may reach although they "
    "are private, loopback or link-local; every other such webhook is refused.",
    group="a2a",
)
A2A_TASK_LEASE_SECONDS = Setting(
    "A2A_TASK_LEASE_SECONDS",
    "Seconds an A2A task running in a process stays 'working' without that process renewing it; after that "
    "the task is reported failed (its instance stopped). Renewed every third of it while the task runs.",
    default="60",
    group="a2a",
)
A2A_REMOTE_AGENT_URL = Setting(
    "A2A_REMOTE_AGENT_URL",
    "Remote A2A agent the a2a-caller sample calls: its app's base URL, or its Agent Card URL.",
    group="a2a",
)
A2A_REMOTE_AGENT_KEY = Setting(
    "A2A_REMOTE_AGENT_KEY", "Function key of A2A_REMOTE_AGENT_URL's JSON-RPC endpoint (x-functions-key).",
    group="a2a", secret=True,
)

# MCP
MCP_ALLOWED_ORIGINS = Setting(
    "MCP_ALLOWED_ORIGINS",
    "Comma-separated browser origins (scheme://host[:port]) allowed to call /api/mcp; a request with any other "
    "Origin header gets 403. Requests without Origin (non-browser clients) are always allowed.",
    group="mcp",
)

MCP_SERVER_PATH = Setting(
    "MCP_SERVER_PATH", "Path of the stdio MCP server script the MCP sample starts.", group="mcp"
)
MCP_SERVER_URL = Setting("MCP_SERVER_URL", "URL of an extra streamable-HTTP MCP server for the MCP sample.",
                         group="mcp")
MCP_SERVER_TOKEN = Setting("MCP_SERVER_TOKEN", "Bearer token for MCP_SERVER_URL.", group="mcp", secret=True)

# Local host (``python -m azurefunctions.agents serve``)
LOCAL_FUNCTION_KEY = Setting(
    "AGENTS_LOCAL_FUNCTION_KEY",
    "Function key the local host accepts with --enable-auth (x-functions-key header or code= query). "
    "Unset: a random key is generated and printed at start.",
    group="local",
    secret=True,
)
LOCAL_MASTER_KEY = Setting(
    "AGENTS_LOCAL_MASTER_KEY",
    "Master (admin) key of the local host with --enable-auth. Unset: generated and printed at start.",
    group="local",
    secret=True,
)
