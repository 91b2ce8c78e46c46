"""Function tools: schemas from type hints and docstrings, validation, errors, concurrency."""

from __future__ import annotations

import asyncio
import threading
import time
from enum import Enum
from typing import Literal, Optional

import pytest
from pydantic import BaseModel

from azurefunctions.agents.tools import FunctionTool, ToolContext, ToolError, function_tool

CTX = ToolContext(agent_name="tester", session_id="s1")


class Color(Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    zip_code: int


def everything(city: str, days: int = 3, nickname: Optional[str] = None, tags: list[str] | None = None,  # noqa: UP045
               options: dict | None = None, unit: Literal["c", "f"] = "c", color: Color = Color.RED,
               address: Address | None = None, ratio: float = 0.5, verbose: bool = False) -> dict:
    """Forecast for a city.

    Args:
        city: The city to forecast.
        days: How many days ahead.
        tags: Labels to attach.
    """
    return {"city": city, "days": days, "color": color.value, "zip": address.zip_code if address else None,
            "tags": tags, "unit": unit, "ratio": ratio}


def test_schema_covers_every_supported_type() -> None:
    schema = FunctionTool(everything).parameters
    props = schema["properties"]
    assert schema["type"] == "object"
    assert schema["required"] == ["city"]
    assert schema["additionalProperties"] is False
    assert props["city"] == {"type": "string", "description": "The city to forecast."}
    assert props["days"] == {"type": "integer", "default": 3, "description": "How many days ahead."}
    assert props["nickname"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert props["tags"]["anyOf"][0] == {"type": "array", "items": {"type": "string"}}
    assert props["tags"]["description"] == "Labels to attach."
    assert props["options"]["anyOf"][0]["type"] == "object"
    assert props["unit"]["enum"] == ["c", "f"]
    assert props["color"]["$ref"] == "#/$defs/Color"
    assert schema["$defs"]["Color"]["enum"] == ["red", "blue"]
    assert schema["$defs"]["Address"]["required"] == ["street", "zip_code"]
    assert props["ratio"]["type"] == "number"
    assert props["verbose"]["type"] == "boolean"
    assert FunctionTool(everything).description == "Forecast for a city."


@pytest.mark.parametrize("style", ["sphinx", "numpy"])
def test_parameter_descriptions_from_other_docstring_styles(style: str) -> None:
    def sphinx(city: str) -> str:
        """Look up a city.

        :param city: Name of the city.
        :returns: text
        """
        return city

    def numpy(city: str) -> str:
        """Look up a city.

        Parameters
        ----------
        city : str
            Name of the city.
        """
        return city

    tool = FunctionTool(sphinx if style == "sphinx" else numpy)
    assert tool.parameters["properties"]["city"]["description"] == "Name of the city."
    assert tool.description == "Look up a city."


async def test_valid_arguments_are_converted_and_passed() -> None:
    out = await FunctionTool(everything).invoke(
        {"city": "Oslo", "color": "blue", "address": {"street": "Main", "zip_code": "0150"}, "tags": ["a"]}, CTX)
    assert not out.is_error
    assert out.structured == {"city": "Oslo", "days": 3, "color": "blue", "zip": 150, "tags": ["a"], "unit": "c",
                              "ratio": 0.5}


async def test_invalid_arguments_become_an_error_result_and_the_function_does_not_run() -> None:
    calls: list[str] = []

    def record(city: str, days: int) -> str:
        calls.append(city)
        return "ran"

    out = await FunctionTool(record).invoke({"days": "many", "extra": 1}, CTX)
    assert out.is_error
    assert "city: Field required" in out.content
    assert "days: Input should be a valid integer" in out.content
    assert "extra" in out.content
    assert calls == []


async def test_a_raising_tool_returns_its_error_to_the_model() -> None:
    def broken(x: int) -> int:
        raise ValueError("the sensor is offline")

    out = await FunctionTool(broken).invoke({"x": 1}, CTX)
    assert out.is_error
    assert out.content == "Tool broken failed: ValueError: the sensor is offline"


async def test_tool_error_message_is_passed_verbatim() -> None:
    def picky(x: int) -> int:
        raise ToolError("x must be even")

    out = await FunctionTool(picky).invoke({"x": 1}, CTX)
    assert (out.content, out.is_error) == ("x must be even", True)


async def test_sync_tools_run_off_the_event_loop_and_async_tools_are_awaited() -> None:
    loop_thread = threading.get_ident()
    seen: dict[str, int] = {}

    def sync_tool() -> str:
        seen["sync"] = threading.get_ident()
        return "s"

    async def async_tool() -> str:
        seen["async"] = threading.get_ident()
        return "a"

    assert (await FunctionTool(sync_tool).invoke({}, CTX)).content == "s"
    assert (await FunctionTool(async_tool).invoke({}, CTX)).content == "a"
    assert seen["sync"] != loop_thread
    assert seen["async"] == loop_thread


async def test_two_slow_sync_tools_run_concurrently() -> None:
    both_started = threading.Barrier(2, timeout=5)

    def slow(n: int) -> int:
        both_started.wait()  # raises BrokenBarrierError unless the other call runs at the same time
        time.sleep(0.05)
        return n

    tool = FunctionTool(slow)
    results = await asyncio.gather(tool.invoke({"n": 1}, CTX), tool.invoke({"n": 2}, CTX))
    assert [(r.content, r.is_error) for r in results] == [("1", False), ("2", False)]


async def test_context_parameter_is_injected_and_hidden_from_the_schema() -> None:
    def whoami(ctx: ToolContext) -> str:
        return f"{ctx.agent_name}/{ctx.session_id}"

    tool = FunctionTool(whoami)
    assert tool.parameters["properties"] == {}
    assert (await tool.invoke({}, CTX)).content == "tester/s1"


def test_decorator_forms() -> None:
    @function_tool
    def plain(a: int) -> int:
        """Plain."""
        return a

    @function_tool(name="renamed", description="Custom.")
    def other(a: int) -> int:
        return a

    assert (plain.name, plain.description) == ("plain", "Plain.")
    assert (other.name, other.description) == ("renamed", "Custom.")


def test_bad_tool_names_are_refused() -> None:
    with pytest.raises(ValueError, match="tool name"):
        FunctionTool(lambda: 1, name="has space")
