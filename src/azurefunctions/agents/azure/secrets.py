"""Secrets from Azure Key Vault, read with the app's managed identity, once per process.

A secret is read the first time it is needed and kept in memory for the life of the worker: Key Vault is not on
the path of every request. When a provider refuses a key read from here (HTTP 401: the key was rotated), the
caller ``invalidate()``s the value it used; the next read goes back to the vault, and only once however many
concurrent requests saw the 401. Values are never logged, put in exceptions or in telemetry.

Reads use the synchronous ``SecretClient``; async callers run them in a worker thread (``aget_secret``), so
the event loop never waits on the network. Concurrent first reads of one secret share a single request.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .. import settings
from ..errors import AgentFrameworkError, ConfigurationError, missing_extra
from ..redaction import register_secret
from .identity import default_credential

logger = logging.getLogger("azurefunctions.agents.azure")

_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
#: How long a "not found" answer is remembered (a secret created later is picked up after this).
ABSENT_TTL_SECONDS = 60.0
#: After a refresh found the same value the provider refused, further refreshes wait this long.
STALE_RETRY_SECONDS = 30.0


class SecretUnavailableError(AgentFrameworkError):
    """Key Vault could not be reached or answered an unexpected error; the request may be retried."""

    status = 502
    code = "key_vault_unavailable"


@dataclass(frozen=True)
class SecretRef:
    """A secret kept in Key Vault, usable wherever the runtime takes a secret (``LLMConfig(api_key=...)``).

    ``SecretRef("openai-api-key")`` reads the secret from the vault in ``AZURE_KEY_VAULT_ENDPOINT``;
    ``vault_url=`` names another vault, ``version=`` pins a version. A full secret identifier
    (``https://<vault>.vault.azure.net/secrets/<name>[/<version>]``) is accepted as the name.
    """

    name: str
    version: str | None = None
    vault_url: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigurationError("SecretRef(name=...) must be a non-empty Key Vault secret name")
        if self.name.startswith("https://"):
            parts = urlsplit(self.name)
            segments = [s for s in parts.path.split("/") if s]
            if len(segments) not in (2, 3) or segments[0] != "secrets":
                raise ConfigurationError(
                    f"SecretRef(name={self.name!r}) is not a secret identifier: expected "
                    "https://<vault>.vault.azure.net/secrets/<name>[/<version>]")
            object.__setattr__(self, "vault_url", f"https://{parts.netloc}")
            object.__setattr__(self, "name", segments[1])
            if len(segments) == 3:
                object.__setattr__(self, "version", segments[2])
        if not _NAME.match(self.name):
            raise ConfigurationError(
                f"SecretRef(name={self.name!r}): Key Vault secret names are 1-127 letters, digits and dashes")
        if self.vault_url is not None and not self.vault_url.startswith("https://"):
            raise ConfigurationError(f"SecretRef(vault_url={self.vault_url!r}) must be an https:// vault URI")

    def resolve(self) -> str:
        """The secret's value (read once per process; blocks on the first read)."""
        value = get_secret(self)
        assert value is not None  # required=True raises instead
        return value

    async def aresolve(self) -> str:
        """The secret's value, read in a worker thread the first time."""
        value = await aget_secret(self)
        assert value is not None
        return value

    def describe(self) -> str:
        """Where the secret lives, for messages (never its value)."""
        return f"Key Vault secret {self.name!r}"


@dataclass
class _Entry:
    value: str | None  # None: the vault has no such secret
    read_at: float
    stale: set[str] = field(default_factory=set)  # digests of values a provider refused
    stale_checked_at: float = 0.0

    def __post_init__(self) -> None:
        # A value read from the vault is scrubbed from every log record from now on.
        register_secret(self.value)


_guard = threading.Lock()
_cache: dict[tuple[str, str, str], _Entry] = {}
_key_locks: dict[tuple[str, str, str], threading.Lock] = {}
_clients: dict[str, Any] = {}
_client_options: dict[str, Any] = {}
_credential: Any = None


def configure_client(**options: Any) -> None:
    """Extra keyword arguments for every ``SecretClient`` the process creates from now on.

    For example ``connection_verify="<ca bundle>"`` to trust a private certificate authority, or
    ``credential=`` to replace ``DefaultAzureCredential``. Clients already made are discarded.
    """
    global _credential
    with _guard:
        _client_options.clear()
        _client_options.update(options)
        _clients.clear()
        _credential = None


def clear_cache() -> None:
    """Forget every value read so far (the next use reads the vault again)."""
    with _guard:
        _cache.clear()


def vault_url_for(ref: SecretRef) -> str:
    """The vault a reference points at: its own ``vault_url``, else ``AZURE_KEY_VAULT_ENDPOINT``."""
    url = ref.vault_url or settings.AZURE_KEY_VAULT_ENDPOINT.get()
    if not url:
        raise ConfigurationError(
            f"{ref.describe()} is configured but no vault is: set {settings.AZURE_KEY_VAULT_ENDPOINT.name} "
            "to the vault URI (https://<name>.vault.azure.net/).")
    if not url.startswith("https://"):
        raise ConfigurationError(f"{settings.AZURE_KEY_VAULT_ENDPOINT.name} must be an https:// vault URI")
    return url.rstrip("/")


def _key(ref: SecretRef) -> tuple[str, str, str]:
    return (vault_url_for(ref).lower(), ref.name.lower(), ref.version or "")


def cached_secret(ref: SecretRef) -> str | None:
    """The value already read for ``ref``, without any I/O (``None`` when not read yet or absent)."""
    with _guard:
        entry = _cache.get(_key(ref))
    return entry.value if entry is not None else None


def _fresh(entry: _Entry | None) -> bool:
    if entry is None:
        return False
    return entry.value is not None or time.monotonic() - entry.read_at < ABSENT_TTL_SECONDS


def get_secret(ref: SecretRef, *, required: bool = True) -> str | None:
    """The secret's value, from memory after the first read.

    ``required=False`` answers ``None`` for a secret the vault does not have (a fallback name that may or may
    not exist); ``required=True`` raises ``ConfigurationError`` naming the secret instead.
    """
    key = _key(ref)
    with _guard:
        entry = _cache.get(key)
        lock = _key_locks.setdefault(key, threading.Lock())
    if not _fresh(entry):
        with lock:  # one read per secret, however many callers arrive together
            with _guard:
                entry = _cache.get(key)
            if not _fresh(entry):
                value = _read(ref, key[0])
                with _guard:
                    previous = _cache.get(key)
                    entry = _Entry(value, time.monotonic())
                    if previous is not None:  # remember which values a provider already refused
                        entry.stale, entry.stale_checked_at = previous.stale, previous.stale_checked_at
                    _cache[key] = entry
    assert entry is not None
    if entry.value is None and required:
        raise ConfigurationError(
            f"{ref.describe()} was not found in the vault {vault_url_for(ref)}: create it, or configure the "
            "value another way.")
    return entry.value


async def aget_secret(ref: SecretRef, *, required: bool = True) -> str | None:
    """``get_secret`` for async code: no I/O when cached, else the read runs in a worker thread."""
    key = _key(ref)
    with _guard:
        entry = _cache.get(key)
    if _fresh(entry):
        assert entry is not None
        if entry.value is not None or not required:
            return entry.value
    return await asyncio.to_thread(get_secret, ref, required=required)


def invalidate(ref: SecretRef, stale_value: str | None) -> bool:
    """A provider refused ``stale_value``: drop it so the next use reads the vault. True when retrying makes
    sense (the cache no longer holds that value, or a re-read is now due); False when the vault was re-read
    moments ago and still holds the refused value (retrying would fail the same way)."""
    key = _key(ref)
    now = time.monotonic()
    with _guard:
        entry = _cache.get(key)
        if entry is None:
            return True
        if entry.value is None or entry.value != stale_value:
            return True  # already refreshed, or a refresh is pending
        digest = _digest(stale_value)
        if digest in entry.stale and now - entry.stale_checked_at < STALE_RETRY_SECONDS:
            return False  # the vault was re-read moments ago and still holds the refused value
        entry.stale.add(digest)
        entry.stale_checked_at = now
        entry.value = None
        entry.read_at = -ABSENT_TTL_SECONDS  # not fresh: the next get_secret reads the vault
    logger.info("refreshing %s after the provider refused it", ref.describe())
    return True


def _digest(value: str | None) -> str:
    return hashlib.sha256((value or "").encode()).hexdigest()


def _client(vault_url: str) -> Any:
    global _credential
    with _guard:
        client = _clients.get(vault_url)
        if client is not None:
            return client
        try:
            from azure.keyvault.secrets import SecretClient
        except ModuleNotFoundError as exc:
            raise missing_extra("Key Vault secrets", "keyvault", exc) from exc
        options = dict(_client_options)
        credential = options.pop("credential", None)
        if credential is None:
            if _credential is None:
                _credential = default_credential()
            credential = _credential
        client = SecretClient(vault_url=vault_url, credential=credential, **options)
        _clients[vault_url] = client
        return client


def _read(ref: SecretRef, vault_url: str) -> str | None:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

    client = _client(vault_url)
    started = time.perf_counter()
    try:
        secret = client.get_secret(ref.name, ref.version)
    except ResourceNotFoundError:
        logger.info("%s does not exist in %s", ref.describe(), vault_url)
        return None
    except ClientAuthenticationError as exc:
        if getattr(exc, "status_code", None) in (401, 403):
            raise ConfigurationError(
                f"The app's identity may not read {ref.describe()} in {vault_url}: grant it the "
                "'Key Vault Secrets User' role on the vault.") from None
        raise ConfigurationError(
            f"No Azure credential could get a token for Key Vault ({type(exc).__name__}): in Azure set "
            f"{settings.AZURE_CLIENT_ID.name} to the managed identity's client ID; locally run 'az login'."
        ) from None
    except HttpResponseError as exc:
        if exc.status_code == 403:
            raise ConfigurationError(
                f"The app's identity may not read {ref.describe()} in {vault_url}: grant it the "
                "'Key Vault Secrets User' role on the vault.") from None
        raise SecretUnavailableError(
            f"Key Vault answered HTTP {exc.status_code} reading {ref.describe()}; retry later.") from None
    except Exception as exc:  # connection failures and the like: no detail that could carry a value
        logger.warning("reading %s from %s failed: %s", ref.describe(), vault_url, type(exc).__name__)
        raise SecretUnavailableError(f"Key Vault could not be reached reading {ref.describe()}.") from None
    logger.info("read %s from Key Vault in %.0f ms", ref.describe(), (time.perf_counter() - started) * 1000)
    value = secret.value
    return value if isinstance(value, str) and value else None
