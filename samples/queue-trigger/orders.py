"""The order book the triage agent looks orders up in (a stand-in for a real order system)."""

from __future__ import annotations

ORDERS: dict[int, dict[str, str]] = {
    1042: {"status": "shipped", "carrier": "parcel post", "tracking": "PX-1042", "eta": "in 2 days"},
    1043: {"status": "delayed", "carrier": "freight", "tracking": "FR-1043", "eta": "in 9 days"},
    1044: {"status": "delivered", "carrier": "courier", "tracking": "CR-1044", "eta": "delivered yesterday"},
}


def lookup_order(order_number: int) -> str:
    """Look up an order by its number: its status, carrier, tracking code and delivery estimate."""
    order = ORDERS.get(order_number)
    if order is None:
        return f"No order {order_number}: ask the customer to check the number on their receipt."
    return (f"Order {order_number} is {order['status']} ({order['carrier']}, tracking {order['tracking']}), "
            f"{order['eta']}.")
