"""The floor: a bare ``openai`` SDK tool loop, what any framework adds its overhead to."""

from __future__ import annotations

import json
from typing import Any

import harness

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
FUNCTIONS = {"get_weather": harness.get_weather}


def build(base_url: str) -> Any:
    import openai

    return openai.AsyncOpenAI(api_key=harness.API_KEY, base_url=base_url, max_retries=0)


async def turn(client: Any, message: str) -> str:
    messages: list[dict[str, Any]] = [{"role": "system", "content": harness.INSTRUCTIONS},
                                      {"role": "user", "content": message}]
    for _ in range(10):
        response = await client.chat.completions.create(model=harness.MODEL, messages=messages, tools=TOOLS)
        reply = response.choices[0].message
        if not reply.tool_calls:
            return reply.content or ""
        messages.append(reply.model_dump(exclude_none=True))
        for call in reply.tool_calls:
            output = FUNCTIONS[call.function.name](**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": str(output)})
    raise RuntimeError("no answer after 10 model calls")


async def close(client: Any) -> None:
    await client.close()


if __name__ == "__main__":
    harness.main(build, turn, close)
