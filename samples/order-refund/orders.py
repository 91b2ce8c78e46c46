"""The sample's order system: a small in-memory book of orders and the refunds made against them.

A real app calls its payment provider here. ``refund`` takes an idempotency key, as payment APIs do, so a refund
retried after a crash is made once: the runtime passes the same key on every attempt of the same call.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Order:
    order_id: str
    customer: str
    item: str
    amount: float
    refunded: float = 0.0


@dataclass
class OrderBook:
    orders: dict[str, Order] = field(default_factory=dict)
    #: Refunds made, by idempotency key: the same key never refunds twice.
    refunds: dict[str, float] = field(default_factory=dict)

    def find(self, order_id: str) -> Order | None:
        return self.orders.get(order_id.strip().upper())

    def refund(self, order_id: str, amount: float, idempotency_key: str | None) -> str:
        order = self.find(order_id)
        if order is None:
            return f"No order {order_id}."
        if idempotency_key is not None and idempotency_key in self.refunds:
            return f"Refund of {self.refunds[idempotency_key]:.2f} EUR on {order.order_id} was already made."
        if amount <= 0 or order.refunded + amount > order.amount:
            return (f"Cannot refund {amount:.2f} EUR on {order.order_id}: it cost {order.amount:.2f} EUR and "
                    f"{order.refunded:.2f} EUR were refunded already.")
        order.refunded += amount
        if idempotency_key is not None:
            self.refunds[idempotency_key] = amount
        return f"Refunded {amount:.2f} EUR on {order.order_id} ({order.item})."


BOOK = OrderBook(orders={o.order_id: o for o in (
    Order("A1001", "ana", "running shoes", 120.0),
    Order("A1002", "ana", "socks", 12.0),
    Order("B2001", "ben", "rain jacket", 240.0),
)})
