"""A small MCP server (the ``mcp`` SDK's own server) with tools the reference servers lack.

Run as ``python nested_server.py`` (stdio) or served over streamable HTTP by a test. Its tools have a
nested input schema (objects in arrays, enums, ``$defs``), a slow tool for timeouts, and a tool that adds
another tool at run time (to see list refreshes).
"""

from __future__ import annotations

import asyncio
from enum import StrEnum

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field


class Unit(StrEnum):
    kg = "kg"
    lb = "lb"


class Item(BaseModel):
    sku: str = Field(description="Stock keeping unit")
    quantity: int = Field(ge=1)
    weight: float
    unit: Unit


class Address(BaseModel):
    city: str
    postcode: str | None = None


class Order(BaseModel):
    customer: str
    address: Address
    items: list[Item]
    priority: str = Field(default="normal", json_schema_extra={"enum": ["low", "normal", "high"]})


def build() -> MCPServer:
    server = MCPServer("nested-test-server")

    @server.tool(description="Total weight of an order in kilograms.")
    def order_weight(order: Order) -> str:
        total = sum(i.quantity * (i.weight if i.unit == Unit.kg else i.weight * 0.45359237)
                    for i in order.items)
        return f"{order.customer} in {order.address.city}: {total:.2f} kg ({order.priority})"

    @server.tool(description="Waits the given number of seconds, then answers.")
    async def slow(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return f"waited {seconds} s"

    @server.tool(description="Adds the tool 'extra' to this server.")
    def register_extra() -> str:
        def extra() -> str:
            """A tool added at run time."""
            return "extra!"

        server.add_tool(extra, name="extra")
        return "added"

    return server


if __name__ == "__main__":
    build().run("stdio")
