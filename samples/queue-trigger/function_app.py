"""Support-ticket triage: an agent fed from a Storage queue by a queue trigger written in this app.

``create_triggers=False`` keeps the framework's HTTP routes out: this app's own functions are the interface.
``triage_ticket`` (a queue trigger on ``support-tickets``) runs each ticket through ``app.runners["Triage"]``,
one session per ticket, and ``ticket`` (an HTTP trigger) shows the result. The platform delivers a queue
message at least once, so the trigger checks the ticket's session first and never triages a ticket twice;
a ticket it cannot read fails, is retried, and after ``maxDequeueCount`` (host.json) lands on
``support-tickets-poison``.

The model comes from the environment (README "Configuration"); with none configured it is the labelled
offline model locally.
"""

from __future__ import annotations

import json
import logging

import azure.functions as func
from orders import lookup_order

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.types import LLMConfig

TICKETS_QUEUE = "support-tickets"

triage = Agent(
    name="Triage",
    instructions=(
        "You triage customer support tickets about orders. Look the order up with lookup_order, then answer "
        "in two sentences: what happened to the order, and the next step for the support team."
    ),
    description="Triages support tickets about orders.",
    tools=[lookup_order],
    llm_config=LLMConfig.from_env(model_name="gpt-4o-mini"),
)

app = AgentFunctionApp(agents=[triage], create_triggers=False)
logger = logging.getLogger("queue_trigger_sample")


def ticket_session(ticket_id: str) -> str:
    return f"ticket-{ticket_id}"


def read_ticket(msg: func.QueueMessage) -> dict[str, str]:
    """The ticket in a message, or ``ValueError``: ``{"ticket_id": "...", "text": "...", "customer": "..."}``."""
    try:
        ticket = json.loads(msg.get_body().decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError(f"message {msg.id} is not a JSON ticket") from None
    if not isinstance(ticket, dict) or not all(isinstance(ticket.get(k), str) and ticket[k]
                                               for k in ("ticket_id", "text")):
        raise ValueError(f"message {msg.id} needs ticket_id and text strings")
    if not ticket["ticket_id"].replace("-", "").isalnum() or len(ticket["ticket_id"]) > 64:
        raise ValueError(f"message {msg.id}: ticket_id must be letters, digits and '-'")
    return ticket


@app.function_name("triage_ticket")
@app.queue_trigger(arg_name="msg", queue_name=TICKETS_QUEUE, connection="AzureWebJobsStorage")
async def triage_ticket(msg: func.QueueMessage) -> None:
    ticket = read_ticket(msg)  # a bad ticket raises: retried, then moved to support-tickets-poison
    session_id = ticket_session(ticket["ticket_id"])
    existing = await app.session_store.load(session_id)
    if existing is not None and any(m.role == "assistant" for m in existing.messages):
        logger.info("ticket %s was triaged already (delivery %s); nothing to do", ticket["ticket_id"],
                    msg.dequeue_count)
        return
    response = await app.runners["Triage"].run({
        "message": ticket["text"],
        "session_id": session_id,
        "context": {"customer": ticket.get("customer", "")},
    })
    if response.status != "success":
        # Raising hands the message back to the queue: the platform retries it, then poisons it.
        raise RuntimeError(f"ticket {ticket['ticket_id']} could not be triaged: {response.error}")
    logger.info("ticket %s triaged", ticket["ticket_id"])


@app.function_name("ticket")
@app.route(route="api/tickets/{ticket_id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def ticket(req: func.HttpRequest) -> func.HttpResponse:
    ticket_id = req.route_params.get("ticket_id", "")
    session = await app.session_store.load(ticket_session(ticket_id)) \
        if ticket_id.replace("-", "").isalnum() and len(ticket_id) <= 64 else None
    answers = [m.content for m in session.messages if m.role == "assistant" and not m.tool_calls] \
        if session is not None else []
    if not answers:
        body = {"error": {"code": "ticket_not_found",
                          "message": f"Ticket {ticket_id[:64]} has not been triaged (yet)."}}
        return func.HttpResponse(json.dumps(body), status_code=404, mimetype="application/json")
    assert session is not None
    return func.HttpResponse(json.dumps({"ticket_id": ticket_id, "status": "triaged", "triage": answers[-1],
                                         "messages": len(session.messages)}),
                             mimetype="application/json")


@app.function_name("health")
@app.route(route="api/health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({"status": "healthy"}), mimetype="application/json")
