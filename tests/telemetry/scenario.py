"""One process, one turn, with whatever telemetry the environment configures; run as a subprocess.

``python -m tests.telemetry.scenario tool|offline`` prints one JSON line: the response, the trace context it
continued and which telemetry modules the process imported. Telemetry set-up is process-global
(``configure_azure_monitor``), which is why each case gets its own process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys


def lookup(query: str) -> str:
    """Look something up."""
    return f"found {len(query)} characters"


async def main(mode: str) -> dict[str, object]:
    from azurefunctions.agents import Agent, Runner
    from azurefunctions.agents.telemetry import instrumentation
    from azurefunctions.agents.types import LLMConfig

    if mode == "offline":
        agent = Agent(name="Helper", instructions="Be brief.", tools=[lookup],
                      llm_config=LLMConfig(provider="offline"))
    else:
        agent = Agent(name="Helper", description="Answers questions", instructions="Be brief.", tools=[lookup],
                      llm_config=LLMConfig(provider="openai", model_name="gpt-4o-mini", max_retries=0))
    headers = json.loads(os.environ.get("SCENARIO_HEADERS", "{}"))
    try:
        with instrumentation().incoming(headers):
            response = await Runner(agent).run({"message": "What is in the box?", "session_id": "conv-42"})
        await instrumentation().aflush()
        # Background exporters (Live Metrics pings every 5 s) get this long before the process ends.
        await asyncio.sleep(float(os.environ.get("SCENARIO_LINGER_SECONDS", "0")))
    finally:
        await agent.aclose()
    return {
        "response": response.to_dict(),
        "telemetry": type(instrumentation()).__name__,
        "modules": sorted(m for m in sys.modules
                          if m.split(".")[0] == "opentelemetry" or m.startswith("azure.monitor")),
    }


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    print("SCENARIO " + json.dumps(asyncio.run(main(sys.argv[1]))), flush=True)
