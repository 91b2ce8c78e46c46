"""Put a support ticket on the queue the app reads: ``python send_ticket.py "Where is order 1042?"``.

Uses the app's storage connection from the environment or ``local.settings.json`` (``AzureWebJobsStorage``:
``UseDevelopmentStorage=true`` with Azurite running locally). Messages are base64-encoded, the Functions
host's default ``messageEncoding``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import uuid
from pathlib import Path

from azurefunctions.agents.background.queues import QueueService, resolve_connection, send_message

QUEUE = "support-tickets"
CONNECTION = "AzureWebJobsStorage"  # the connection name the queue trigger uses


async def send_ticket(text: str, *, ticket_id: str | None = None, customer: str = "") -> str:
    """Send one ticket; returns its id."""
    ticket_id = ticket_id or uuid.uuid4().hex[:12]
    service = QueueService(resolve_connection(CONNECTION))
    try:
        body = json.dumps({"ticket_id": ticket_id, "text": text, "customer": customer})
        await send_message(service.queue(QUEUE), body)
    finally:
        await service.aclose()
    return ticket_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text", help="what the customer wrote")
    parser.add_argument("--ticket-id", help="the ticket's id (default: a new one)")
    parser.add_argument("--customer", default="", help="who wrote it")
    args = parser.parse_args()
    settings = Path(__file__).with_name("local.settings.json")
    if CONNECTION not in os.environ and settings.is_file():
        values = json.loads(settings.read_text(encoding="utf-8")).get("Values") or {}
        if values.get(CONNECTION):
            os.environ[CONNECTION] = values[CONNECTION]
    ticket_id = asyncio.run(send_ticket(args.text, ticket_id=args.ticket_id, customer=args.customer))
    print(f"ticket {ticket_id} queued; see GET /api/tickets/{ticket_id}")


if __name__ == "__main__":
    main()
