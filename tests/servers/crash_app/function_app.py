"""A Function App whose tools leave traces a crash test can count (tests/servers/crash.py).

Every tool appends what it did to the JSON-lines file ``$CRASH_DIR/effects.jsonl`` (written and synced before
the tool goes on, so a killed process leaves it behind) and then waits until the file ``$CRASH_DIR/gate``
exists, so a test can stop the worker at a known point inside the tool. The session store is the one the
environment selects: the SQLite file of ``AGENTS_SESSION_DB``, or Cosmos DB when ``COSMOS_ENDPOINT`` is set.

* ``lookup`` (repeatable): called, waits at the gate, then acts (``lookup.done``) and answers.
* ``refund`` (not repeatable, no idempotency key): acts first (``refund.done``: the money left), then waits.
* ``pay`` (not repeatable, passes the call's idempotency key to a payment ledger that applies each key once,
  as a payment service does): records the attempt and the key, applies it, then waits.

``CRASH_TOOLS`` (comma-separated names), when set, keeps only those tools: a new version of the agent.
"""

import asyncio
import json
import os
import time
from pathlib import Path

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.tools import FunctionTool, ToolContext, ToolError
from azurefunctions.agents.types import LLMConfig

CRASH_DIR = Path(os.environ["CRASH_DIR"])
EFFECTS = CRASH_DIR / "effects.jsonl"
GATE = CRASH_DIR / "gate"
LEDGER = CRASH_DIR / "ledger.jsonl"


def record(event: str, path: Path = EFFECTS, **fields: str) -> None:
    line = json.dumps({"event": event, "pid": os.getpid(), **fields})
    with path.open("a", encoding="utf-8") as file:
        file.write(line + "\n")
        file.flush()
        os.fsync(file.fileno())


async def wait_at_gate() -> None:
    deadline = time.monotonic() + 60
    while not GATE.exists():
        if time.monotonic() > deadline:
            raise ToolError("the gate never opened")
        await asyncio.sleep(0.05)


async def lookup(code: str) -> str:
    """Look up an order by its code."""
    record("lookup.called", code=code)
    await wait_at_gate()
    record("lookup.done", code=code)
    return f"order {code} shipped"


async def refund(order: str) -> str:
    """Refund an order."""
    record("refund.done", order=order)
    await wait_at_gate()
    return f"order {order} refunded"


async def pay(order: str, context: ToolContext) -> str:
    """Pay an order."""
    key = context.idempotency_key
    record("pay.called", order=order, key=key)
    applied = {json.loads(line)["key"] for line in LEDGER.read_text().splitlines()} if LEDGER.exists() else set()
    if key not in applied:
        record("pay.done", LEDGER, order=order, key=key)
    await wait_at_gate()
    return f"order {order} paid"


config = LLMConfig.from_env(model_name="gpt-4o-mini", timeout=60, max_retries=0)
tools = [lookup, FunctionTool(refund, repeatable=False), FunctionTool(pay, repeatable=False)]
# A redeployed version of the agent may have fewer tools: CRASH_TOOLS lists the ones this version has.
offered = os.environ.get("CRASH_TOOLS")
if offered is not None:
    tools = [t for t in tools if getattr(t, "name", getattr(t, "__name__", "")) in offered.split(",")]
orders = Agent(name="Orders", instructions="Orders agent: you look up, refund and pay orders.", tools=tools,
               llm_config=config)

app = AgentFunctionApp(agents=[orders], background=True)
