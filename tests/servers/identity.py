"""A managed-identity token endpoint on 127.0.0.1 (the App Service protocol azure-identity speaks).

With ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER`` from ``.env`` in the environment, azure-identity's
``ManagedIdentityCredential`` (and so ``DefaultAzureCredential``) asks this server for tokens:
``GET /msi/token?resource=...&api-version=2019-08-01`` with the secret in ``X-IDENTITY-HEADER``. Nothing
then probes the instance metadata address. ``requests`` records what was asked, for assertions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from .base import LocalServer, respond_json


@dataclass
class TokenRequest:
    resource: str
    client_id: str | None
    api_version: str


class IdentityServer:
    """Issues opaque bearer tokens to whoever presents the identity header; ``start()``/``stop()``."""

    def __init__(self, *, token_lifetime: int = 3600) -> None:
        self.header_secret = secrets.token_hex(16)
        self.token_lifetime = token_lifetime
        self.requests: list[TokenRequest] = []
        self.tokens: list[str] = []
        self.object_id = str(uuid.uuid4())
        self._signing_key = secrets.token_bytes(32)
        self._lock = threading.Lock()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await self._handle(scope, send)

        self._server = LocalServer(app)

    @property
    def endpoint(self) -> str:
        return f"{self._server.url}/msi/token"

    @property
    def env(self) -> dict[str, str]:
        """The variables that point azure-identity's managed identity credential here."""
        return {"IDENTITY_ENDPOINT": self.endpoint, "IDENTITY_HEADER": self.header_secret}

    def start(self) -> IdentityServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> IdentityServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _token_for(self, resource: str) -> str:
        if resource.rstrip("/") not in JWT_RESOURCES:
            return f"local-mi-{secrets.token_hex(8)}"
        now = int(time.time())
        claims = {"aud": resource.rstrip("/"), "iss": f"https://sts.windows.net/{TENANT}/", "iat": now - 5,
                  "nbf": now - 5, "exp": now + self.token_lifetime, "tid": TENANT, "oid": self.object_id,
                  "sub": self.object_id, "appid": self.object_id, "ver": "1.0"}
        return jwt_token(claims, self._signing_key)

    async def _handle(self, scope: dict[str, Any], send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = {key.decode().lower(): value.decode() for key, value in scope["headers"]}
        query = {key: values[0] for key, values in parse_qs(scope["query_string"].decode()).items()}
        if scope["path"] != "/msi/token" or scope["method"] != "GET":
            await respond_json(send, 404, {"error": "not_found"})
            return
        if headers.get("x-identity-header") != self.header_secret:
            await respond_json(send, 401, {"error": "invalid_identity_header"})
            return
        resource = query.get("resource")
        if not resource or not query.get("api-version"):
            await respond_json(send, 400, {"error": "invalid_request", "error_description": "resource required"})
            return
        token = self._token_for(resource)
        with self._lock:
            self.requests.append(TokenRequest(resource, query.get("client_id"), query["api-version"]))
            self.tokens.append(token)
        await respond_json(send, 200, {
            "access_token": token,
            "expires_on": str(int(time.time()) + self.token_lifetime),
            "resource": resource,
            "token_type": "Bearer",
        })


#: Resources whose services read the token (Azure Storage, and Azurite with ``--oauth basic``): they get a
#: JWT-shaped token, as Entra ID issues; every other resource gets an opaque one.
JWT_RESOURCES = ("https://storage.azure.com",)
#: The issuer Entra ID v1 tokens carry (Azurite accepts only known Entra issuers).
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_token(claims: dict[str, Any], key: bytes) -> str:
    """An HS256-signed JWT (the signature is for shape: services under test decode, they cannot verify it)."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64url(signature)}"
