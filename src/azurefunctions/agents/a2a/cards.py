"""Agent Cards: what an agent tells A2A clients about itself, built from the agent and the request.

The card lists one JSON-RPC endpoint twice, as A2A 1.0 and as 0.3 (the same URL serves both). It is served in
two forms, each valid for its own version: the A2A 1.0 card (ProtoJSON of the 1.0 ``AgentCard``, nothing
else, so a strict 1.0 parser accepts it), and the A2A 0.3 card (the SDK's 0.3 model: ``url``,
``preferredTransport``, ``protocolVersion``, 0.3 security schemes). The SDK's own "dual" card merges both into
one document, which neither version's schema accepts (its security schemes carry both shapes at once).
Capabilities say what is built: streaming when the app streams its responses (``AgentFunctionApp`` streams
in A2A mode unless told not to), push notifications (delivered to webhooks, see ``push.py``), no extended
card.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from a2a.compat.v0_3.conversions import to_compat_agent_card
from a2a.types.a2a_pb2 import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    APIKeySecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)
from a2a.utils.constants import PROTOCOL_VERSION_0_3, PROTOCOL_VERSION_1_0, TransportProtocol
from google.protobuf.json_format import MessageToDict

from ..agent import Agent
from ..http.routes import url_for
from .routes import RPC_ROUTE

#: ``Cache-Control`` of card responses: clients may reuse a card for five minutes, then revalidate (ETag).
CARD_CACHE_CONTROL = "public, max-age=300"
INPUT_MODES = ["text/plain", "application/json"]
OUTPUT_MODES = ["text/plain"]


def rpc_url(base_url: str, agent_name: str, api_base: str = "/api") -> str:
    """``api_base``: where the app's ``api/`` paths are served (host.json's routePrefix, see docs/routes.md)."""
    return base_url.rstrip("/") + url_for(RPC_ROUTE, api_base, agent_name=agent_name)


def build_card(agent: Agent, *, base_url: str, auth_level: str, push_notifications: bool = True,
               api_base: str = "/api", streaming: bool = True) -> AgentCard:
    """The agent's card. ``auth_level`` is the JSON-RPC route's (ANONYMOUS, FUNCTION or ADMIN); ``streaming``
    whether the app's responses stream as they are produced (the HTTP-streams types)."""
    url = rpc_url(base_url, agent.name, api_base)
    card = AgentCard(
        name=agent.name,
        description=agent.description or agent.name,
        version=agent.version,
        supported_interfaces=[
            AgentInterface(url=url, protocol_binding=TransportProtocol.JSONRPC.value,
                           protocol_version=PROTOCOL_VERSION_1_0),
            AgentInterface(url=url, protocol_binding=TransportProtocol.JSONRPC.value,
                           protocol_version=PROTOCOL_VERSION_0_3),
        ],
        capabilities=AgentCapabilities(streaming=streaming, push_notifications=push_notifications,
                                       extended_agent_card=False),
        default_input_modes=INPUT_MODES,
        default_output_modes=OUTPUT_MODES,
        skills=skills(agent),
    )
    if auth_level.upper() != "ANONYMOUS":
        where = "the master (host) key" if auth_level.upper() == "ADMIN" else "a function key"
        card.security_schemes["functionKey"].CopyFrom(SecurityScheme(api_key_security_scheme=APIKeySecurityScheme(
            location="header", name="x-functions-key", description=f"Azure Functions: {where}.")))
        card.security_schemes["functionKeyQuery"].CopyFrom(SecurityScheme(
            api_key_security_scheme=APIKeySecurityScheme(location="query", name="code",
                                                         description=f"Azure Functions: {where}.")))
        for name in ("functionKey", "functionKeyQuery"):
            requirement = SecurityRequirement()
            requirement.schemes[name].CopyFrom(StringList())
            card.security_requirements.append(requirement)
    return card


def skills(agent: Agent) -> list[AgentSkill]:
    """The agent itself as a skill, then each of its function tools (when the agent exposes its tools)."""
    result = [AgentSkill(id=agent.name, name=agent.name, description=agent.description or agent.name,
                         tags=["agent", type(agent).__name__], input_modes=INPUT_MODES, output_modes=OUTPUT_MODES)]
    if agent.expose_tools:
        for tool in agent.tools:
            result.append(AgentSkill(id=f"{agent.name}.{tool.name}", name=tool.name,
                                     description=tool.description or tool.name, tags=["tool"]))
    return result


def card_json(card: AgentCard, dialect: str = "1.0") -> tuple[bytes, str]:
    """The card's JSON in ``dialect`` (``"1.0"``: the 1.0 ``AgentCard`` alone; ``"0.3"``: the 0.3 card), and
    its weak ETag."""
    data: dict[str, Any]
    if dialect == "0.3":
        data = to_compat_agent_card(card).model_dump(mode="json", exclude_none=True, by_alias=True)
    else:
        data = MessageToDict(card)
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()
    return body, f'W/"{digest}"'
