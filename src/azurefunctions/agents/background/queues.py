"""Azure Storage queue clients from a Functions *connection name*, resolved the way the Functions host does.

A queue trigger names a connection (``AzureWebJobsStorage`` unless told otherwise); the host reads it from
settings in one of these forms, and so does this module (the local host uses it too):

* ``<name>`` = a connection string, or ``UseDevelopmentStorage=true`` (Azurite on its default ports);
* ``<name>__queueServiceUri`` = ``https://<account>.queue.core.windows.net`` with an Entra ID credential, or
  ``<name>__accountName`` = the account (its public queue endpoint); ``<name>__credential`` =
  ``managedidentity`` and ``<name>__clientId`` select a user-assigned identity. No key is ever needed in Azure:
  the app's identity holds Storage Queue Data Contributor on the account.

``azure-storage-queue`` (and azure-identity, aiohttp) are imported only here, when a queue is first used.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError, missing_extra

#: Azurite's well-known development account (public, documented by Microsoft; not a secret).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEV_QUEUE_ENDPOINT = f"http://127.0.0.1:10001/{DEV_ACCOUNT}"


def poison_queue_name(queue_name: str) -> str:
    """The queue the platform moves a message to after its last failed delivery."""
    return f"{queue_name}-poison"


@dataclass(frozen=True)
class QueueConnection:
    """A resolved connection: a connection string, or an account URL used with an Entra ID credential."""

    name: str
    connection_string: str | None = None
    account_url: str | None = None
    client_id: str | None = None

    def describe(self) -> str:
        """Where the queues are, without any key."""
        if self.account_url is not None:
            return self.account_url
        parts = dict(p.split("=", 1) for p in (self.connection_string or "").split(";") if "=" in p)
        return parts.get("QueueEndpoint") or f"account {parts.get('AccountName', '?')}"


def resolve_connection(name: str, environ: Mapping[str, str] | None = None) -> QueueConnection:
    """The connection ``name`` refers to, or a ``ConfigurationError`` naming the settings to set."""
    env = os.environ if environ is None else environ
    value = (env.get(name) or "").strip()
    if value:
        if value.replace(" ", "").lower().rstrip(";") == "usedevelopmentstorage=true":
            value = (f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
                     f"QueueEndpoint={DEV_QUEUE_ENDPOINT};")
        return QueueConnection(name=name, connection_string=value)
    uri = (env.get(f"{name}__queueServiceUri") or env.get(f"{name}__serviceUri") or "").strip()
    account = (env.get(f"{name}__accountName") or "").strip()
    if not uri and account:
        uri = f"https://{account}.queue.core.windows.net"
    if uri:
        credential = (env.get(f"{name}__credential") or "").strip().lower()
        client_id = (env.get(f"{name}__clientId") or "").strip() or None
        return QueueConnection(name=name, account_url=uri.rstrip("/"),
                               client_id=client_id if credential in ("", "managedidentity") else None)
    raise ConfigurationError(
        f"No storage connection named {name!r}: set {name} to a connection string (locally "
        f"UseDevelopmentStorage=true with Azurite running), or {name}__queueServiceUri "
        f"(with {name}__credential=managedidentity and {name}__clientId in Azure)")


class QueueService:
    """An async ``QueueServiceClient`` for a connection, with the credential it owns; close it when done."""

    def __init__(self, connection: QueueConnection) -> None:
        self.connection = connection
        self._client: Any = None
        self._credential: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                from azure.storage.queue.aio import QueueServiceClient
            except ModuleNotFoundError as exc:
                raise missing_extra("Storage queues", "queues", exc) from exc
            if self.connection.connection_string is not None:
                self._client = QueueServiceClient.from_connection_string(self.connection.connection_string)
            else:
                try:
                    from azure.identity.aio import DefaultAzureCredential
                except ModuleNotFoundError as exc:
                    raise missing_extra("Identity-based queues", "queues", exc) from exc
                kwargs = {"managed_identity_client_id": self.connection.client_id} if self.connection.client_id \
                    else {}
                self._credential = DefaultAzureCredential(**kwargs)
                self._client = QueueServiceClient(str(self.connection.account_url), credential=self._credential)
        return self._client

    def queue(self, queue_name: str, *, base64: bool = True) -> Any:
        """A ``QueueClient``; ``base64`` encodes and decodes message text as the Functions host expects by
        default (``host.json`` ``extensions.queues.messageEncoding``)."""
        client = self.client  # first: without the SDK, this is the error that names the extra
        kwargs: dict[str, Any] = {}
        if base64:
            from azure.storage.queue import BinaryBase64DecodePolicy, TextBase64EncodePolicy

            kwargs = {"message_encode_policy": TextBase64EncodePolicy(),
                      "message_decode_policy": BinaryBase64DecodePolicy()}
        return client.get_queue_client(queue_name, **kwargs)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        credential, self._credential = self._credential, None
        if client is not None:
            await client.close()
        if credential is not None:
            await credential.close()


async def send_message(queue: Any, content: str, *, visibility_timeout: int | None = None) -> None:
    """Send ``content``; creates the queue when it does not exist yet (a fresh Azurite, a new app)."""
    from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

    try:
        await queue.send_message(content, visibility_timeout=visibility_timeout)
    except ResourceNotFoundError:
        with contextlib.suppress(ResourceExistsError):
            await queue.create_queue()
        await queue.send_message(content, visibility_timeout=visibility_timeout)
