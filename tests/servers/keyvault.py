"""A Key Vault secrets endpoint over HTTPS on 127.0.0.1, driven by the real ``SecretClient``.

Implements ``GET /secrets/{name}[/{version}]?api-version=``, ``PUT /secrets/{name}?api-version=`` (a new
version, as ``SecretClient.set_secret`` sends it) and Key Vault's bearer challenge: a request without a token
gets ``401`` with ``WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>",
resource="https://vault.azure.net"``; the client then asks its credential (the local managed identity server)
for a token and repeats the request. The certificate is made at start-up with ``cryptography``; ``ca_file`` is
the PEM file a client must trust. ``reads`` records every authorised read, ``writes`` every authorised write.

``challenge_resource`` is the resource the challenge names. The SDK checks that the vault's host ends with it
(``<name>.vault.azure.net`` ends with ``vault.azure.net``) unless a client turns that check off; a client that
keeps it on (as a command-line tool should) is served with ``loopback_challenge_resource()``, the analogue for
``127.0.0.1:<port>``.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from .base import LocalServer, read_body, respond_json

TENANT_ID = "72f988bf-0000-0000-0000-000000000000"
VAULT_RESOURCE = "https://vault.azure.net"
CHALLENGE = (f'Bearer authorization="https://login.microsoftonline.com/{TENANT_ID}", '
             f'resource="{VAULT_RESOURCE}"')
SECRET_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")


@dataclass
class SecretRead:
    name: str
    version: str | None
    api_version: str
    token: str


@dataclass
class SecretWrite:
    name: str
    value: str
    content_type: str | None
    tags: dict[str, str]
    api_version: str
    token: str


@dataclass
class _Version:
    id: str
    value: str
    created: int
    content_type: str | None = None
    tags: dict[str, str] | None = None


def make_certificate(directory: str) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (also its own CA), written as PEM; returns (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, "vault-cert.pem")
    key_path = os.path.join(directory, "vault-key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


class KeyVaultServer:
    """``KeyVaultServer(token_validator=identity.tokens.__contains__).start()``; ``set_secret`` adds a version."""

    def __init__(self, *, token_validator: Callable[[str], bool] | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="kv-")
        self.ca_file, key_file = make_certificate(self._dir.name)
        self.token_validator = token_validator
        self.reads: list[SecretRead] = []
        self.writes: list[SecretWrite] = []
        self.challenge_resource = VAULT_RESOURCE
        self.challenges = 0
        #: Secret names this server answers 403 for (an identity without the role).
        self.forbidden: set[str] = set()
        self._secrets: dict[str, list[_Version]] = {}
        self._lock = threading.Lock()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await self._handle(scope, receive, send)

        self._server = LocalServer(app, ssl_certfile=self.ca_file, ssl_keyfile=key_file)
        self.url = self._server.url

    def set_secret(self, name: str, value: str) -> str:
        """Store a new version of ``name`` (it becomes the latest); returns the version id."""
        version = secrets.token_hex(16)
        with self._lock:
            self._secrets.setdefault(name.lower(), []).append(_Version(version, value, int(time.time())))
        return version

    def value_of(self, name: str) -> str | None:
        """The latest value of ``name``, or ``None`` when the vault has no such secret."""
        with self._lock:
            versions = self._secrets.get(name.lower(), [])
            return versions[-1].value if versions else None

    def loopback_challenge_resource(self) -> str:
        """A challenge resource the vault's own address ends with: ``127.0.0.1:<port>`` ends with ``.0.0.1:<port>``."""
        return f"https://0.0.1:{self._server.port}"

    def reset(self) -> None:
        """Forget every secret, read, write and refusal (between tests sharing one server)."""
        with self._lock:
            self._secrets.clear()
            self.reads.clear()
            self.writes.clear()
            self.forbidden.clear()
            self.challenges = 0

    def reads_of(self, name: str) -> int:
        with self._lock:
            return sum(1 for r in self.reads if r.name.lower() == name.lower())

    def start(self) -> KeyVaultServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        self._dir.cleanup()

    def __enter__(self) -> KeyVaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        parts = [p for p in scope["path"].split("/") if p]
        method = scope["method"]
        shape_ok = parts[:1] == ["secrets"] and (len(parts) in (2, 3) if method == "GET" else len(parts) == 2)
        if method not in ("GET", "PUT") or not shape_ok:
            await _respond(send, 404, _error("NotFound", "No such operation."))
            return
        if not query.get("api-version"):
            await _respond(send, 400, _error("BadParameter", "The 'api-version' parameter is required."))
            return
        auth = headers.get("authorization", "")
        challenge = CHALLENGE.replace(VAULT_RESOURCE, self.challenge_resource).encode()
        if not auth.startswith("Bearer "):
            with self._lock:
                self.challenges += 1
            await _respond(send, 401, _error("Unauthorized", "AKV10000: Request is missing a Bearer token."),
                           extra=[(b"www-authenticate", challenge)])
            return
        token = auth.removeprefix("Bearer ")
        if self.token_validator is not None and not self.token_validator(token):
            await _respond(send, 401, _error("Unauthorized", "AKV10032: Invalid issuer."),
                           extra=[(b"www-authenticate", challenge)])
            return
        if method == "PUT":
            await self._put(parts[1], query["api-version"], token, await read_body(receive), send)
            return
        name = parts[1]
        version = parts[2] if len(parts) == 3 else None
        with self._lock:
            self.reads.append(SecretRead(name, version, query["api-version"], token))
            forbidden = name.lower() in self.forbidden
            versions = self._secrets.get(name.lower(), [])
            found = versions[-1] if versions and version is None else next(
                (v for v in versions if v.id == version), None)
        if forbidden:
            await _respond(send, 403, _error("Forbidden", "Caller is not authorized to perform action on "
                                                          "resource. Action: 'Microsoft.KeyVault/vaults/secrets/"
                                                          "getSecret/action'"))
            return
        if found is None:
            await _respond(send, 404, _error(
                "SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault."))
            return
        await _respond(send, 200, {
            "value": found.value,
            "id": f"{self.url}/secrets/{name}/{found.id}",
            "attributes": {"enabled": True, "created": found.created, "updated": found.created,
                           "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
            **({"contentType": found.content_type} if found.content_type is not None else {}),
            "tags": found.tags or {},
        })

    async def _put(self, name: str, api_version: str, token: str, body: bytes, send: Any) -> None:
        """``SetSecret``: a JSON body with ``value`` (and optional ``contentType``, ``tags``) adds a version."""
        if not SECRET_NAME.match(name):
            await _respond(send, 400, _error(
                "BadParameter", "The request URI contains an invalid name: " + name))
            return
        try:
            document = json.loads(body or b"null")
        except ValueError:
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("value"), str):
            await _respond(send, 400, _error("BadParameter", "Property 'value' is required."))
            return
        content_type = document.get("contentType")
        tags = {str(k): str(v) for k, v in (document.get("tags") or {}).items()}
        with self._lock:
            forbidden = name.lower() in self.forbidden
        if forbidden:
            await _respond(send, 403, _error("Forbidden", "Caller is not authorized to perform action on "
                                                          "resource. Action: 'Microsoft.KeyVault/vaults/secrets/"
                                                          "setSecret/action'"))
            return
        version = secrets.token_hex(16)
        created = int(time.time())
        with self._lock:
            self.writes.append(SecretWrite(name, document["value"], content_type, tags, api_version, token))
            self._secrets.setdefault(name.lower(), []).append(
                _Version(version, document["value"], created, content_type, tags))
        await _respond(send, 200, {
            "value": document["value"],
            "id": f"{self.url}/secrets/{name}/{version}",
            **({"contentType": content_type} if content_type is not None else {}),
            "attributes": {"enabled": True, "created": created, "updated": created,
                           "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
            "tags": tags,
        })


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


async def _respond(send: Any, status: int, body: dict[str, Any],
                   extra: list[tuple[bytes, bytes]] | None = None) -> None:
    """Key Vault's answers name their charset."""
    await respond_json(send, status, body, content_type=b"application/json; charset=utf-8", headers=extra)
