"""Entra ID callers through App Service Authentication (Easy Auth).

With Easy Auth on, the platform validates the caller's token before the request reaches the app and passes the
caller on in ``X-MS-CLIENT-PRINCIPAL`` (base64 JSON: ``auth_typ``, ``claims`` as ``[{typ, val}]``, ``name_typ``,
``role_typ``) and ``X-MS-CLIENT-PRINCIPAL-ID/-NAME/-IDP``. The platform strips those headers from incoming
requests only when it is on, so they are trusted only when it says so (``WEBSITE_AUTH_ENABLED=True``); anywhere
else anyone could send them. ``EntraAuth`` then checks tenant, audience and the allowed client, group and role
lists, and fails closed: anything missing, forged or malformed is 401, a valid caller who is not allowed is 403.
The caller's object id becomes the ``user_id`` that owns sessions.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import settings
from ..errors import AgentFrameworkError, ConfigurationError

logger = logging.getLogger("azurefunctions.agents.auth")

PRINCIPAL_HEADER = "x-ms-client-principal"
PRINCIPAL_ID_HEADER = "x-ms-client-principal-id"
PRINCIPAL_NAME_HEADER = "x-ms-client-principal-name"
PRINCIPAL_IDP_HEADER = "x-ms-client-principal-idp"
IDENTITY_HEADERS = (PRINCIPAL_HEADER, PRINCIPAL_ID_HEADER, PRINCIPAL_NAME_HEADER, PRINCIPAL_IDP_HEADER)

OBJECT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
TENANT_CLAIMS = ("http://schemas.microsoft.com/identity/claims/tenantid", "tid")
AUDIENCE_CLAIMS = ("aud",)
CLIENT_CLAIMS = ("azp", "appid")
GROUP_CLAIMS = ("groups",)
ROLE_CLAIMS = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")

#: The largest principal header accepted; the platform's are a few kilobytes even with many groups.
MAX_PRINCIPAL_BYTES = 32 * 1024
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SIGN_IN = "Sign in with Entra ID: send an access token for this app in the Authorization header (Bearer)."


class AuthError(AgentFrameworkError):
    """The caller is not signed in (401) or not allowed (403); the message says which and never echoes input."""

    def __init__(self, message: str, *, status: int = 401, code: str = "unauthorized") -> None:
        super().__init__(message, code=code, status=status)


@dataclass(frozen=True)
class Principal:
    """A caller the platform authenticated and ``EntraAuth`` allowed."""

    user_id: str  # the Entra object id: owner of the caller's sessions
    name: str | None
    tenant_id: str
    audience: str | None
    client_id: str | None
    groups: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    claims: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)


def platform_auth_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether App Service Authentication is on for this app (the platform sets ``WEBSITE_AUTH_ENABLED``)."""
    value = settings.WEBSITE_AUTH_ENABLED.get(dict(environ) if environ is not None else None)
    return (value or "").lower() == "true"


def _items(value: Iterable[str] | str | None, argument: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    items = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ConfigurationError(f"EntraAuth({argument}=...) must hold non-empty strings")
        items.append(item.strip())
    return tuple(items)


class EntraAuth:
    """Require callers signed in with Entra ID through App Service Authentication.

    ``tenant_id`` and ``audiences`` are required (from ``AGENTS_AUTH_TENANT_ID`` and ``AGENTS_AUTH_AUDIENCES``
    when not given). ``allowed_client_ids`` limits the calling applications (``azp``/``appid``);
    ``allowed_groups`` and ``allowed_roles``, when either is set, require the caller to be in one of the groups
    or hold one of the roles. Unset lists allow everyone who passed the tenant and audience checks.
    """

    def __init__(self, *, tenant_id: str | None = None, audiences: Sequence[str] | str | None = None,
                 allowed_client_ids: Sequence[str] | str | None = None,
                 allowed_groups: Sequence[str] | str | None = None,
                 allowed_roles: Sequence[str] | str | None = None) -> None:
        tenant = tenant_id if tenant_id is not None else settings.AUTH_TENANT_ID.get()
        if not tenant or not _GUID.match(tenant.strip()):
            raise ConfigurationError(
                f"EntraAuth(tenant_id=...) must be the Entra tenant id (a GUID); got {tenant!r}. "
                f"Set it or {settings.AUTH_TENANT_ID.name}.")
        self.tenant_id = tenant.strip().lower()
        self.audiences = _items(audiences if audiences is not None else settings.get_list(settings.AUTH_AUDIENCES),
                                "audiences")
        if not self.audiences:
            raise ConfigurationError(
                "EntraAuth(audiences=[...]) needs the accepted token audiences (the app registration's client id "
                f"and/or its api:// URI). Set it or {settings.AUTH_AUDIENCES.name}.")
        self.allowed_client_ids = _items(
            allowed_client_ids if allowed_client_ids is not None
            else settings.get_list(settings.AUTH_ALLOWED_CLIENT_IDS), "allowed_client_ids")
        self.allowed_groups = _items(
            allowed_groups if allowed_groups is not None else settings.get_list(settings.AUTH_ALLOWED_GROUPS),
            "allowed_groups")
        self.allowed_roles = _items(
            allowed_roles if allowed_roles is not None else settings.get_list(settings.AUTH_ALLOWED_ROLES),
            "allowed_roles")
        self._audiences = {a.lower() for a in self.audiences}
        self._clients = {c.lower() for c in self.allowed_client_ids}
        self._groups = {g.lower() for g in self.allowed_groups}
        self._roles = set(self.allowed_roles)

    @classmethod
    def from_settings(cls) -> EntraAuth | None:
        """The auth ``AGENTS_AUTH`` asks for: ``EntraAuth`` for ``entra``, nothing when unset."""
        mode = (settings.AUTH_MODE.get() or "").lower()
        if not mode or mode == "none":
            return None
        if mode != "entra":
            raise ConfigurationError(f"{settings.AUTH_MODE.name}={mode!r} is not one of: entra, none")
        return cls()

    def __repr__(self) -> str:
        return (f"EntraAuth(tenant_id={self.tenant_id!r}, audiences={list(self.audiences)!r}, "
                f"allowed_client_ids={list(self.allowed_client_ids)!r}, "
                f"allowed_groups={list(self.allowed_groups)!r}, allowed_roles={list(self.allowed_roles)!r})")

    # The check --------------------------------------------------------------------------------------------
    def authenticate(self, headers: Mapping[str, str], environ: Mapping[str, str] | None = None) -> Principal:
        """The allowed caller of a request with lower-case ``headers``; ``AuthError`` otherwise."""
        present = [name for name in IDENTITY_HEADERS if headers.get(name)]
        if not platform_auth_enabled(environ):
            if present:
                logger.warning("rejected a request carrying App Service identity headers while App Service "
                               "Authentication is off (forged headers)")
                raise AuthError("Identity headers are accepted only from App Service Authentication, which is "
                                "not enabled for this app.", code="untrusted_identity")
            raise AuthError("This app requires Entra ID sign-in through App Service Authentication, which is not "
                            "enabled; turn it on for the Function App (see docs/security.md).",
                            code="unauthorized")
        raw = headers.get(PRINCIPAL_HEADER)
        if not raw:
            raise AuthError(_SIGN_IN)
        principal = self._principal(raw, headers)
        self._authorize(principal)
        return principal

    def _principal(self, raw: str, headers: Mapping[str, str]) -> Principal:
        data = decode_principal(raw)
        claims = _claims(data)
        idp = (headers.get(PRINCIPAL_IDP_HEADER) or "").lower()
        auth_type = str(data.get("auth_typ") or "").lower()
        if auth_type != "aad" or (idp and idp != "aad"):
            raise AuthError("Only Entra ID (aad) sign-ins are accepted.", code="invalid_principal")
        object_id = _first(claims, OBJECT_ID_CLAIMS)
        if not object_id:
            raise AuthError("The signed-in principal has no object id (oid).", code="invalid_principal")
        header_id = headers.get(PRINCIPAL_ID_HEADER)
        if header_id and header_id.lower() != object_id.lower():
            raise AuthError("The identity headers disagree with each other.", code="invalid_principal")
        tenant = (_first(claims, TENANT_CLAIMS) or "").lower()
        if tenant != self.tenant_id:
            raise AuthError("The token was issued by another Entra tenant than this app accepts.",
                            code="invalid_token")
        audiences = [a for typ in AUDIENCE_CLAIMS for a in claims.get(typ, ())]
        audience = next((a for a in audiences if a.lower() in self._audiences), None)
        if audience is None:
            raise AuthError("The token is for another audience than this app; request a token for this app's "
                            "registration.", code="invalid_token")
        role_type = data.get("role_typ") if isinstance(data.get("role_typ"), str) else None
        role_types = (*ROLE_CLAIMS, role_type) if role_type else ROLE_CLAIMS
        name_type = data.get("name_typ") if isinstance(data.get("name_typ"), str) else None
        name = headers.get(PRINCIPAL_NAME_HEADER) or (_first(claims, (name_type,)) if name_type else None)
        return Principal(
            user_id=object_id.lower(), name=name, tenant_id=tenant, audience=audience,
            client_id=_first(claims, CLIENT_CLAIMS),
            groups=frozenset(g.lower() for typ in GROUP_CLAIMS for g in claims.get(typ, ())),
            roles=frozenset(r for typ in dict.fromkeys(role_types) for r in claims.get(typ, ())),
            claims=claims,
        )

    def _authorize(self, principal: Principal) -> None:
        if self._clients and (principal.client_id or "").lower() not in self._clients:
            raise AuthError("The calling application is not allowed to use this app.", status=403, code="forbidden")
        if self._groups or self._roles:
            if principal.groups & self._groups or principal.roles & self._roles:
                return
            raise AuthError("The caller is in none of the groups and holds none of the app roles this app allows.",
                            status=403, code="forbidden")


def decode_principal(raw: str) -> dict[str, Any]:
    """The JSON object inside ``X-MS-CLIENT-PRINCIPAL``; ``AuthError`` (401) when it is not one."""
    if len(raw) > MAX_PRINCIPAL_BYTES:
        raise AuthError("The identity header is too large.", code="invalid_principal")
    try:
        padded = raw.strip() + "=" * (-len(raw.strip()) % 4)
        data = json.loads(base64.b64decode(padded, validate=True).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise AuthError("The identity header is malformed.", code="invalid_principal") from None
    if not isinstance(data, dict):
        raise AuthError("The identity header is malformed.", code="invalid_principal")
    return data


def encode_principal(claims: Iterable[tuple[str, str]], *, auth_typ: str = "aad",
                     name_typ: str = "name", role_typ: str = "roles") -> str:
    """A header value in the platform's format (for tests and tools that stand in for the platform)."""
    data = {"auth_typ": auth_typ, "claims": [{"typ": t, "val": v} for t, v in claims],
            "name_typ": name_typ, "role_typ": role_typ}
    return base64.b64encode(json.dumps(data).encode("utf-8")).decode("ascii")


def _claims(data: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    raw = data.get("claims")
    if not isinstance(raw, list):
        raise AuthError("The identity header is malformed.", code="invalid_principal")
    claims: dict[str, list[str]] = {}
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("typ"), str) or not isinstance(item.get("val"), str):
            raise AuthError("The identity header is malformed.", code="invalid_principal")
        claims.setdefault(item["typ"], []).append(item["val"])
    return {typ: tuple(values) for typ, values in claims.items()}


def _first(claims: Mapping[str, tuple[str, ...]], types: Iterable[str]) -> str | None:
    for typ in types:
        values = claims.get(typ)
        if values:
            return values[0]
    return None
