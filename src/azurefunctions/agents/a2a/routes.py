"""The routes an ``AgentMode.A2A`` app adds: Agent Cards (anonymous) and one JSON-RPC endpoint per agent."""

from __future__ import annotations

from ..http.routes import RouteSpec

#: Methods of the card routes and of the JSON-RPC route (others get 405).
CARD_METHODS = ("GET",)
RPC_METHODS = ("POST",)

A2A_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("a2a_agent_card", "api/agents/{agent_name}/.well-known/agent-card.json", CARD_METHODS, "card",
              "a2a_card", "The agent's A2A Agent Card."),
    RouteSpec("a2a_agent_card_v03", "api/agents/{agent_name}/.well-known/agent.json", CARD_METHODS, "card",
              "a2a_card_v03", "The agent's Agent Card in the A2A 0.3 form."),
    RouteSpec("a2a_rpc", "api/agents/{agent_name}/a2a", RPC_METHODS, "a2a", "a2a_rpc",
              "The agent's A2A JSON-RPC 2.0 endpoint (A2A 1.0 methods, and the 0.3 names without A2A-Version)."),
    RouteSpec("a2a_root_card", ".well-known/agent-card.json", CARD_METHODS, "card", "a2a_root_card",
              "The default agent's A2A Agent Card."),
    RouteSpec("a2a_root_card_legacy", ".well-known/agent.json", CARD_METHODS, "card", "a2a_root_card_v03",
              "The default agent's Agent Card in the A2A 0.3 form (at the path of A2A 0.2 and earlier)."),
)

#: The JSON-RPC route (its URL goes into the cards).
RPC_ROUTE = next(spec for spec in A2A_ROUTES if spec.name == "a2a_rpc")
