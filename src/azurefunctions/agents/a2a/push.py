"""Push notifications: each task update POSTed to the task's webhooks, off the task's path, with retries, and
an SSRF guard on every webhook URL.

*Delivery.* The SDK hands every task update (the task, a status update, an artifact update) to a
``PushNotificationSender``. ``PushSender`` reads the task's configs and queues one delivery per webhook in its
``Outbox``, then returns at once, so a slow or dead webhook never holds the task up. A delivery POSTs the
spec's payload (a ``StreamResponse`` as JSON) with ``X-A2A-Notification-Token: <token>`` and, when the config
has ``authentication``, ``Authorization: <scheme> <credentials>``; a network error, a timeout, 408, 429 or a
5xx is retried after 0.5, 1, 2 and 4 seconds (``RETRY_DELAYS``), any other answer ends it. Deliveries to one
webhook keep the order of the updates. Whoever runs the task (the request, or the queue-triggered worker)
waits for the outbox to drain before its invocation ends (``drain``), so no delivery outlives it.

*Guard.* A webhook URL must be http(s) with a host; the host's addresses must all be public (a2a-sdk's
``validate_push_notification_url`` decides): private, loopback, link-local, shared, reserved, multicast and
unspecified addresses are refused (the cloud metadata endpoint among them), unless the host is listed in
``A2A_PUSH_ALLOWED_HOSTS`` (comma-separated host names or addresses, compared exactly, case-insensitively).
The guard runs when a config is set (the client gets -32602 saying why) and again before every delivery, when
the name is resolved anew.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Sequence
from typing import Any

import httpx
from a2a.server.tasks.push_notification_config_store import PushNotificationConfigStore
from a2a.server.tasks.push_notification_sender import PushNotificationEvent, PushNotificationSender
from a2a.types.a2a_pb2 import TaskPushNotificationConfig
from a2a.utils.proto_utils import to_stream_response
from a2a.utils.push_url_validator import validate_push_notification_url
from google.protobuf.json_format import MessageToDict

from .. import settings

logger = logging.getLogger("azurefunctions.agents.a2a")

TOKEN_HEADER = "X-A2A-Notification-Token"  # noqa: S105 - a header name
#: Seconds before each retry of a failed delivery (so at most len + 1 attempts).
RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
#: Seconds one POST may take.
POST_TIMEOUT = 10.0
#: Longest ``drain`` waits for deliveries still retrying.
DRAIN_SECONDS = 30.0


class PushUrlRefused(ValueError):
    """A webhook URL the guard refuses; the message says why and what to do."""


def allowed_hosts() -> frozenset[str]:
    return frozenset(host.lower().strip("[]") for host in settings.get_list(settings.A2A_PUSH_ALLOWED_HOSTS))


async def check_push_url(url: str, *, allowed: frozenset[str] | None = None) -> None:
    """Refuse (``PushUrlRefused``) a webhook URL that is not http(s), has no host, cannot be resolved, or
    reaches a non-public address, unless its host is in ``allowed`` (default: ``A2A_PUSH_ALLOWED_HOSTS``).

    The address policy is a2a-sdk's ``validate_push_notification_url``; this adds the allow-list and a reason
    the client can act on. The SDK's validator is given only the URL's scheme, host and port, because it logs
    the URL it refuses and a webhook's path or query may carry a secret.
    """
    try:
        parsed = urllib.parse.urlsplit(url)
        port = parsed.port
    except ValueError:
        raise PushUrlRefused("The push notification URL cannot be parsed.") from None
    if parsed.scheme not in ("http", "https"):
        raise PushUrlRefused("The push notification URL must be http or https.")
    host = (parsed.hostname or "").lower()
    if not host:
        raise PushUrlRefused("The push notification URL has no host.")
    if host in (allowed if allowed is not None else allowed_hosts()):
        return
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    if not await validate_push_notification_url(f"{parsed.scheme}://{netloc}/"):
        raise PushUrlRefused(
            f"The push notification host {host} cannot be resolved, or is a private, loopback or link-local "
            f"address, which webhooks may not reach unless the app lists the host in "
            f"{settings.A2A_PUSH_ALLOWED_HOSTS.name}.")


async def push_url_allowed(url: str) -> bool:
    """``check_push_url`` as the SDK's ``push_url_validator`` (True = allowed)."""
    try:
        await check_push_url(url)
    except PushUrlRefused as exc:
        logger.warning("push notification URL refused: %s", exc)
        return False
    return True


def _retryable(status: int) -> bool:
    return status in (408, 429) or status >= 500


class Outbox:
    """Deliveries in flight, in order per webhook. ``drain`` waits for them (bounded)."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], asyncio.Task[bool]] = {}
        self._pending: set[asyncio.Task[bool]] = set()

    def add(self, key: tuple[str, str], send: Any) -> asyncio.Task[bool]:
        """Queue ``send`` (a coroutine function taking nothing) after the previous delivery to ``key``."""
        before = self._last.get(key)

        async def in_order() -> bool:
            if before is not None:
                await asyncio.gather(before, return_exceptions=True)
            result: bool = await send()
            return result

        task = asyncio.get_running_loop().create_task(in_order())
        self._last[key] = task
        self._pending.add(task)
        task.add_done_callback(self._done(key))
        return task

    def _done(self, key: tuple[str, str]) -> Any:
        def forget(task: asyncio.Task[bool]) -> None:
            self._pending.discard(task)
            if self._last.get(key) is task:
                del self._last[key]

        return forget

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def drain(self, limit: float = DRAIN_SECONDS) -> None:
        """Wait for every queued delivery; after ``limit`` seconds the rest are abandoned (and logged)."""
        while self._pending:  # again when more were queued while waiting
            waiting = set(self._pending)
            _, late = await asyncio.wait(waiting, timeout=limit)
            for task in late:
                task.cancel()
            if late:
                logger.warning("%d push notification(s) still undelivered after %ss were dropped", len(late),
                               limit)
                await asyncio.gather(*late, return_exceptions=True)
                self._pending -= late


class PushSender(PushNotificationSender):
    """Delivers task updates to the task's webhooks through an ``Outbox``."""

    def __init__(self, config_store: PushNotificationConfigStore, *, outbox: Outbox | None = None,
                 retry_delays: Sequence[float] = RETRY_DELAYS, timeout: float = POST_TIMEOUT) -> None:
        self.config_store = config_store
        self.outbox = outbox or Outbox()
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            # Redirects are not followed: a webhook may not bounce a notification past the guard.
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        return self._client

    async def send_notification(self, task_id: str, event: PushNotificationEvent) -> None:
        try:
            configs = await self.config_store.get_info_for_dispatch(task_id)
        except Exception:
            logger.exception("could not read the push notification configs of task %s", task_id)
            return
        if not configs:
            return
        payload = MessageToDict(to_stream_response(event))
        for config in configs:
            copy = TaskPushNotificationConfig()
            copy.CopyFrom(config)

            def send(config: TaskPushNotificationConfig = copy) -> Any:
                return self.deliver(task_id, config, payload)

            self.outbox.add((task_id, config.id or config.url), send)

    async def deliver(self, task_id: str, config: TaskPushNotificationConfig, payload: dict[str, Any]) -> bool:
        """POST ``payload`` to the config's URL, retrying what may succeed later; True when delivered."""
        try:
            await check_push_url(config.url)
        except PushUrlRefused as exc:
            logger.warning("push notification for task %s not sent: %s", task_id, exc)
            return False
        headers = {}
        if config.token:
            headers[TOKEN_HEADER] = config.token
        if config.HasField("authentication") and config.authentication.scheme:
            if config.authentication.credentials:
                headers["Authorization"] = f"{config.authentication.scheme} {config.authentication.credentials}"
            else:
                logger.warning("push config %s of task %s names a scheme without credentials; sending no "
                               "Authorization header", config.id, task_id)
        for attempt, delay in enumerate((0.0, *self.retry_delays)):
            if delay:
                await asyncio.sleep(delay)
            try:
                response = await self.client.post(config.url, json=payload, headers=headers)
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            else:
                if response.status_code < 300:
                    return True
                outcome = f"HTTP {response.status_code}"
                if not _retryable(response.status_code):
                    logger.warning("push notification for task %s refused by its webhook (%s)", task_id, outcome)
                    return False
            logger.info("push notification for task %s failed (%s, attempt %d)", task_id, outcome, attempt + 1)
        logger.warning("push notification for task %s not delivered after %d attempts", task_id,
                       len(self.retry_delays) + 1)
        return False

    async def drain(self, limit: float = DRAIN_SECONDS) -> None:
        await self.outbox.drain(limit)

    async def aclose(self) -> None:
        await self.drain()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
