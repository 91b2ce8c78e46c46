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

*Guard.* A webhook URL must be http(s) with a host; the host's addresses must all be public: private,
loopback, link-local, shared, reserved, multicast and unspecified addresses are refused (the cloud metadata
endpoint among them), unless the host is listed in ``A2A_PUSH_ALLOWED_HOSTS`` (comma-separated host names or
addresses, compared exactly, case-insensitively). When a config is set only its form is checked (and a
literal non-public address refused, -32602 saying why): a name is resolved at each delivery, its addresses
checked then, and the POST sent to the checked address (``pinned``), so a name that changes its answer
between check and connection (DNS rebinding) reaches nothing it was not checked for.

a2a-sdk's ``validate_push_notification_url`` is not used: it resolves the name and answers yes or no, and the
HTTP client would then resolve it again to connect, which is exactly the window DNS rebinding uses; it also
logs the whole URL it refuses, and a webhook's path or query may carry a secret.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
from a2a.server.tasks.push_notification_config_store import PushNotificationConfigStore
from a2a.server.tasks.push_notification_sender import PushNotificationEvent, PushNotificationSender
from a2a.types.a2a_pb2 import Task, TaskPushNotificationConfig
from a2a.utils.proto_utils import to_stream_response
from google.protobuf.json_format import MessageToDict

from .. import settings
from .wire import whole_numbers

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


def _blocked(address: str) -> bool:
    """Whether an address is not a public unicast destination (an IPv4-mapped IPv6 address is judged as
    the IPv4 address it carries)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return (not ip.is_global or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified)


def _parse(url: str) -> tuple[urllib.parse.SplitResult, str, int | None]:
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
    return parsed, host, port


def _refused(host: str) -> PushUrlRefused:
    return PushUrlRefused(
        f"The push notification host {host} is a private, loopback or link-local address, which webhooks "
        f"may not reach unless the app lists the host in {settings.A2A_PUSH_ALLOWED_HOSTS.name}.")


def check_push_url_form(url: str, *, allowed: frozenset[str] | None = None) -> None:
    """What can be judged when a config is set, without resolving anything: an http(s) URL with a host, and
    not a literal non-public address (unless listed). A host name is accepted here: what it resolves to is
    checked at each delivery (``check_push_url``), where it matters."""
    _, host, _ = _parse(url)
    if host in (allowed if allowed is not None else allowed_hosts()):
        return
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return  # a name
    if _blocked(host):
        raise _refused(host)


async def check_push_url(url: str, *, allowed: frozenset[str] | None = None) -> str | None:
    """The address a delivery to ``url`` must connect to: the URL's host resolved now, all of whose
    addresses must be public (``PushUrlRefused`` otherwise: not http(s), no host, not resolvable, or some
    address private, loopback, link-local ...). ``None`` when the host is listed in ``allowed`` (default:
    ``A2A_PUSH_ALLOWED_HOSTS``): it is then reached by name."""
    parsed, host, port = _parse(url)
    if host in (allowed if allowed is not None else allowed_hosts()):
        return None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port or (443 if parsed.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except OSError:
        raise PushUrlRefused(f"The push notification host {host} cannot be resolved.") from None
    if not infos or any(_blocked(str(info[4][0])) for info in infos):
        raise _refused(host)
    return str(infos[0][4][0])


def pinned(url: str, address: str | None) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The request that reaches ``url`` at the checked ``address``: the URL with the address as its host,
    the original ``Host`` header, and for https the original name for SNI and certificate checks (httpcore's
    ``sni_hostname`` request extension). Connecting by name instead would resolve it again, and a name that
    answered a public address to the check could answer a private one to the connection (DNS rebinding)."""
    if address is None:
        return url, {}, {}
    original = httpx.URL(url)
    host = original.host
    netloc_host = f"[{host}]" if ":" in host else host
    headers = {"Host": netloc_host + (f":{original.port}" if original.port else "")}
    extensions: dict[str, Any] = {"sni_hostname": host} if original.scheme == "https" else {}
    return str(original.copy_with(host=address.split("%", 1)[0])), headers, extensions


async def push_url_allowed(url: str) -> bool:
    """``check_push_url_form`` as the SDK's ``push_url_validator`` (True = allowed), run when a config is
    set."""
    try:
        check_push_url_form(url)
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

    async def drain_queued(self, limit: float = DRAIN_SECONDS) -> None:
        """Wait for the deliveries queued so far (not those queued meanwhile by tasks still running here)."""
        waiting = set(self._pending)
        if waiting:
            _, late = await asyncio.wait(waiting, timeout=limit)
            if late:
                logger.warning("%d push notification(s) still undelivered after %ss", len(late), limit)

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
                 retry_delays: Sequence[float] = RETRY_DELAYS, timeout: float = POST_TIMEOUT,
                 task_reader: Callable[[str], Awaitable[Task | None]] | None = None) -> None:
        self.config_store = config_store
        #: Reads a task as stored: webhooks set through A2A 0.3 receive the whole task (the 0.3 body).
        self.task_reader = task_reader
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
        """Queue one delivery of ``event`` per webhook of the task. The body is the A2A 1.0 one (spec 1.0
        §4.3.3: a ``StreamResponse``), or, for a webhook set through A2A 0.3, the 0.3 one: the task as it is
        now, in 0.3 JSON (what a2a-sdk 0.3 posted: ``BasePushNotificationSender._dispatch_notification``,
        ``task.model_dump(mode='json', exclude_none=True)``)."""
        try:
            dispatch = getattr(self.config_store, "dispatch_targets", None)
            targets: list[tuple[TaskPushNotificationConfig, str]] = (
                await dispatch(task_id) if dispatch is not None
                else [(c, "1.0") for c in await self.config_store.get_info_for_dispatch(task_id)])
        except Exception:
            logger.exception("could not read the push notification configs of task %s", task_id)
            return
        if not targets:
            return
        payloads: dict[str, dict[str, Any] | None] = {
            "1.0": whole_numbers(MessageToDict(to_stream_response(event)))}
        if any(dialect == "0.3" for _, dialect in targets):
            payloads["0.3"] = await self._v03_body(task_id, event)
        for config, dialect in targets:
            payload = payloads.get(dialect, payloads["1.0"])
            if payload is None:
                continue
            copy = TaskPushNotificationConfig()
            copy.CopyFrom(config)

            def send(config: TaskPushNotificationConfig = copy, payload: dict[str, Any] = payload) -> Any:
                return self.deliver(task_id, config, payload)

            self.outbox.add((task_id, config.id or config.url), send)

    async def _v03_body(self, task_id: str, event: PushNotificationEvent) -> dict[str, Any] | None:
        from a2a.compat.v0_3.conversions import to_compat_task

        task = event if isinstance(event, Task) else (
            await self.task_reader(task_id) if self.task_reader is not None else None)
        if task is None:
            logger.warning("push notification for task %s: no task to send to a 0.3 webhook", task_id)
            return None
        body: dict[str, Any] = to_compat_task(task).model_dump(mode="json", exclude_none=True, by_alias=True)
        return dict(whole_numbers(body))

    async def deliver(self, task_id: str, config: TaskPushNotificationConfig, payload: dict[str, Any]) -> bool:
        """POST ``payload`` to the config's URL, retrying what may succeed later; True when delivered."""
        try:
            address = await check_push_url(config.url)
        except PushUrlRefused as exc:
            logger.warning("push notification for task %s not sent: %s", task_id, exc)
            return False
        url, headers, extensions = pinned(config.url, address)
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
                response = await self.client.post(url, json=payload, headers=headers, extensions=extensions)
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

    async def drain_queued(self, limit: float = DRAIN_SECONDS) -> None:
        await self.outbox.drain_queued(limit)

    async def aclose(self) -> None:
        await self.drain()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
