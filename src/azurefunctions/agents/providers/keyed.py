"""A provider's API key that may live in Key Vault, and the SDK client made with it.

Every keyed provider (OpenAI, Anthropic, Gemini) behaves the same way here:

- the key is *located* when the provider is made (a literal, the SDK's variable, or a Key Vault secret), but a
  vault secret is *read* only at the first request, in a worker thread, so making a provider never blocks the
  event loop; until then the client holds a placeholder that is never sent;
- the client is rebuilt when the value read from the vault differs from the one it was made with (a rotation
  picked up by another provider of the process, or after a refresh); replaced clients may still serve requests
  in flight, so they are closed with the provider, not at once;
- when the provider refuses a key from the vault before anything was streamed (HTTP 401: the key was rotated),
  the value is invalidated, the vault is read again (once, however many requests saw the refusal) and the call
  is retried once. A literal key or one from an environment variable is never retried: nothing would change.

A provider with another way to authenticate (Azure OpenAI: Entra ID) marks its key ``optional``: when the
fallback secret turns out not to exist at the first request, the client switches to that other way for good.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, TypeVar

from .. import settings
from ..azure.secrets import SecretRef, aget_secret
from ..errors import ConfigurationError, ProviderAuthenticationError
from .credentials import invalidate, locate_api_key, peek, vault_secret_name

logger = logging.getLogger("azurefunctions.agents.providers")

C = TypeVar("C")
T = TypeVar("T")

#: Stands in for a Key Vault key until the first request reads it (never sent: the client is rebuilt first).
UNREAD_KEY = "unread-key-vault-secret"


def missing_key_message(env_setting: settings.Setting) -> str:
    """What to do when no key is configured anywhere (names the variable and the vault secret)."""
    vault = settings.AZURE_KEY_VAULT_ENDPOINT
    secret = vault_secret_name(env_setting)
    where = (f" or create the Key Vault secret {secret!r}" if vault.get()
             else f" (or set {vault.name} and keep it in Key Vault as {secret!r})")
    return f"No API key configured: set {env_setting.name}{where}, or pass api_key= to LLMConfig."


class ProviderKey:
    """Where one provider's key comes from; reads a vault secret only when a request needs it.

    ``configured`` is ``LLMConfig.api_key``; ``env_setting`` the SDK's own variable. Raises
    ``ConfigurationError`` naming the variable when there is no key and no vault to look in. ``optional``: an
    absent fallback secret is not an error (``read`` answers ``None``); an explicit ``SecretRef`` still is.
    """

    def __init__(self, configured: Any, env_setting: settings.Setting, *, optional: bool = False) -> None:
        located = locate_api_key(configured, env_setting)
        if located is None:
            raise ConfigurationError(missing_key_message(env_setting))
        self.env_setting = env_setting
        #: An explicit ``SecretRef`` must exist; the fallback ``<provider>-api-key`` may be absent.
        self.explicit = isinstance(configured, SecretRef)
        self.optional = optional and not self.explicit
        self.secret: SecretRef | None = located if isinstance(located, SecretRef) else None
        self._literal: str | None = located if isinstance(located, str) else None

    @property
    def from_vault(self) -> bool:
        return self.secret is not None

    def known(self) -> str | None:
        """The key if it is known without I/O (a literal, or a vault value this process already read)."""
        if self.secret is None:
            return self._literal
        return peek(self.secret)

    async def read(self) -> str | None:
        """The key to use now: no I/O when known, else one vault read in a worker thread. ``None`` only for
        an ``optional`` key whose fallback secret does not exist."""
        if self.secret is None:
            assert self._literal is not None
            return self._literal
        value = await aget_secret(self.secret, required=self.explicit)
        if not value:
            if self.optional:
                return None
            raise ConfigurationError(
                f"No API key configured: the Key Vault secret {self.secret.name!r} was not found in "
                f"{settings.AZURE_KEY_VAULT_ENDPOINT.get() or 'the vault'}; create it, set "
                f"{self.env_setting.name}, or pass api_key= to LLMConfig.")
        return value

    def refused(self, value: str) -> bool:
        """The provider refused ``value``: drop it from the cache. True when a retry can help."""
        return self.secret is not None and invalidate(self.secret, value)


class KeyedClient(Generic[C]):
    """The SDK client for the current key, rebuilt with ``build(key)`` when the key changes.

    ``stream(call)`` runs one model call as ``call(client, key)`` (``key`` is the value that client sends, for
    masking it in error messages) and retries it once after a refused vault key. ``keyless()`` makes the client
    that authenticates another way (Azure OpenAI with Entra ID): used when ``key`` is ``None``, or for good once
    an ``optional`` key's secret turns out not to exist.
    """

    def __init__(self, key: ProviderKey | None, build: Callable[[str], C], provider: str, *,
                 keyless: Callable[[], C] | None = None) -> None:
        if key is None and keyless is None:
            raise ValueError("KeyedClient: a key, or keyless= to make a client without one")
        self.key = key
        self._build = build
        self._keyless = keyless
        self._provider = provider
        self._retired: list[C] = []
        if key is None:
            assert keyless is not None
            self._value: str | None = None  # None: the keyless client, for good
            self.client: C = keyless()
        else:
            self._value = key.known() or UNREAD_KEY
            self.client = build(self._value)

    @property
    def value(self) -> str | None:
        """The key the current client sends (``None`` before a vault key was read, or without a key)."""
        return None if self._value == UNREAD_KEY else self._value

    async def current(self) -> tuple[C, str]:
        """The client for the key in force now (reading the vault the first time) and that key."""
        if self.key is None or self._value is None:
            return self.client, ""
        value = await self.key.read()
        if value is None:  # an optional key whose secret does not exist: authenticate the other way
            assert self._keyless is not None
            logger.info("%s: %s does not exist; using the identity instead", self._provider,
                        self.key.secret.describe() if self.key.secret else "the key")
            self._retired.append(self.client)
            self.client = self._keyless()
            self._value = None
            return self.client, ""
        if value != self._value:
            if self._value != UNREAD_KEY and self.key.secret is not None:
                logger.info("%s: using the new value of %s", self._provider, self.key.secret.describe())
            self._retired.append(self.client)  # requests in flight may still use it
            self.client = self._build(value)
            self._value = value
        return self.client, value

    async def stream(self, call: Callable[[C, str], AsyncIterator[T]]) -> AsyncIterator[T]:
        """Yield ``call``'s items; a refused vault key is re-read and the call retried once."""
        for attempt in range(2):
            client, value = await self.current()
            started = False
            try:
                async for item in call(client, value):
                    started = True
                    yield item
                return
            except ProviderAuthenticationError:
                if attempt or started or self.key is None or not value or not self.key.refused(value):
                    raise
                assert self.key.secret is not None
                logger.warning("%s refused the key from %s; re-reading it and retrying once",
                               self._provider, self.key.secret.describe())

    def take_clients(self) -> list[C]:
        """Every client made so far (current last), for closing; the replaced ones are forgotten."""
        clients = [*self._retired, self.client]
        self._retired.clear()
        return clients
