"""The identity-based queue connection, for real: ``AzureWebJobsStorage__queueServiceUri`` with
``__credential=managedidentity`` and ``__clientId``, as the infrastructure configures the app in Azure.

Azurite runs over HTTPS with ``--oauth basic`` (it refuses bearer tokens over HTTP and accepts only JWT-shaped
ones: azurite dist/src/queue/authentication/QueueTokenAuthenticator.js, ``validate`` and
``authenticateBasic``); the local managed-identity endpoint issues such tokens for ``https://storage.azure.com``.
No account key is given to the code under test. The throw-away certificate is trusted through
``SSL_CERT_FILE``, which the SDK's aiohttp transport reads through Python's default SSL context.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers.azurite import AzuriteQueues
from tests.servers.identity import IdentityServer
from tests.servers.localhost import LocalHostProcess
from tests.servers.network_guard.plugin import guarded_env
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply

APP = Path(__file__).resolve().parents[1] / "azure" / "apps" / "production"
CLIENT_ID = "0b7f4b6e-2222-4c3d-8e9f-000000000002"
STORAGE = "https://storage.azure.com"


@pytest.fixture(scope="module")
def secure_azurite() -> Iterator[AzuriteQueues]:
    reason = AzuriteQueues.available()
    if reason is not None:
        pytest.skip(reason)  # a failure under CI=true (tests/servers/network_guard/plugin.py)
    with AzuriteQueues(oauth=True) as server:
        yield server


@pytest.fixture(scope="module")
def identity() -> Iterator[IdentityServer]:
    with IdentityServer() as server:
        yield server


def identity_settings(azurite: AzuriteQueues, identity: IdentityServer) -> dict[str, str]:
    """What the app settings hold in Azure (plus where the token endpoint and the test CA are)."""
    return {"AzureWebJobsStorage__queueServiceUri": azurite.endpoint,
            "AzureWebJobsStorage__credential": "managedidentity", "AzureWebJobsStorage__clientId": CLIENT_ID,
            "SSL_CERT_FILE": azurite.ca_file, **identity.env}


ROUND_TRIP = """
import asyncio, json, sys
from azurefunctions.agents.background.queues import QueueService, resolve_connection, send_message

async def main(queue_name):
    connection = resolve_connection("AzureWebJobsStorage")
    assert connection.connection_string is None, "no key may be used"
    service = QueueService(connection)
    try:
        queue = service.queue(queue_name)
        await send_message(queue, "hello over an identity")
        received = [message.content.decode() async for message in queue.receive_messages()]
    finally:
        await service.aclose()
    print(json.dumps({"client_id": connection.client_id, "received": received}))

asyncio.run(main(sys.argv[1]))
"""


def test_an_identity_connection_sends_and_receives(secure_azurite: AzuriteQueues, identity: IdentityServer) -> None:
    # In a fresh process, as an app runs: SSL_CERT_FILE is read when aiohttp builds its default SSL context,
    # once per process, so a process that already made one would not see the test certificate.
    before = len(identity.requests)
    result = subprocess.run([sys.executable, "-c", ROUND_TRIP, f"identity-{uuid.uuid4().hex[:8]}"],
                            env=guarded_env(identity_settings(secure_azurite, identity)), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {"client_id": CLIENT_ID,
                                                          "received": ["hello over an identity"]}
    asked = identity.requests[before:]
    assert asked and all(r.resource.rstrip("/") == STORAGE and r.client_id == CLIENT_ID for r in asked)


def test_azurite_refuses_a_token_that_is_not_jwt_shaped(secure_azurite: AzuriteQueues) -> None:
    # The check above can fail: an opaque token (what the identity server gives other resources) is refused.
    from azure.core.credentials import AccessToken
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
    from azure.storage.queue import QueueServiceClient

    class Opaque:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken("local-mi-opaque", int(time.time()) + 3600)

    client = QueueServiceClient(secure_azurite.endpoint, credential=Opaque(),  # type: ignore[arg-type]
                                connection_verify=secure_azurite.ca_file)
    with pytest.raises((ClientAuthenticationError, HttpResponseError)) as refused:
        client.create_queue(f"opaque-{uuid.uuid4().hex[:8]}")
    assert refused.value.status_code in (401, 403)


def test_a_background_turn_runs_on_the_identity_connection(secure_azurite: AzuriteQueues,
                                                           identity: IdentityServer, tmp_path: Path) -> None:
    with OpenAIServer() as model:
        model.script.add(Reply(text="Queued, and answered."))
        env = {**identity_settings(secure_azurite, identity), "OPENAI_API_KEY": model.api_key,
               "OPENAI_BASE_URL": model.base_url, "AGENTS_SESSION_DB": str(tmp_path / "sessions.sqlite3"),
               "AGENTS_WORK_QUEUE": f"turns-{uuid.uuid4().hex[:8]}", "AGENTS_LOCAL_QUEUE_POLL_SECONDS": "0.5"}
        before = len(identity.requests)
        with LocalHostProcess(APP, env=env) as host, httpx.Client(base_url=host.url, timeout=30) as client:
            accepted = client.post("/api/agents/Orders/chat", json={"message": "later", "async": True})
            assert accepted.status_code == 202, accepted.text
            location = accepted.json()["location"]
            deadline = time.monotonic() + 30
            status: dict[str, Any] = {}
            while time.monotonic() < deadline:
                status = client.get(location).json()
                if status["status"] not in ("queued", "running"):
                    break
                time.sleep(0.2)
            assert status.get("status") == "completed", (status, host.output[-3000:])
            assert status["response"]["response"] == "Queued, and answered."
            assert "(connection: AzureWebJobsStorage)" in host.output
        asked = identity.requests[before:]
        assert asked and all(r.resource.rstrip("/") == STORAGE and r.client_id == CLIENT_ID for r in asked)
