"""``structured_output``: the schema an ``output_type`` sends, and how a model's answer is validated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest
from pydantic import BaseModel

from azurefunctions.agents import Agent
from azurefunctions.agents.structured_output import OutputInvalid, StructuredOutput
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply


class Point(BaseModel):
    """A point on the map."""

    x: int
    y: int
    label: str | None = None


@dataclass
class Pair:
    left: str
    right: str


def test_a_model_is_sent_as_it_is_with_its_name_and_docstring() -> None:
    structured = StructuredOutput(Point)
    assert structured.spec.name == "Point"
    assert structured.spec.description == "A point on the map."
    assert structured.spec.schema == Point.model_json_schema()
    assert structured.validate('{"x": 1, "y": 2}') == Point(x=1, y=2)


def test_a_dataclass_and_a_fenced_answer() -> None:
    structured = StructuredOutput(Pair)
    assert structured.validate('```json\n{"left": "a", "right": "b"}\n```') == Pair("a", "b")
    assert structured.to_jsonable(Pair("a", "b")) == {"left": "a", "right": "b"}


def test_a_non_object_type_is_wrapped_and_unwrapped() -> None:
    structured = StructuredOutput(list[Point])
    wire = structured.spec.schema
    assert wire["type"] == "object" and wire["required"] == ["result"]
    assert wire["properties"]["result"]["items"] == {"$ref": "#/$defs/Point"}
    assert "Point" in wire["$defs"]
    assert structured.validate('{"result": [{"x": 1, "y": 2}]}') == [Point(x=1, y=2)]
    with pytest.raises(OutputInvalid, match='key "result"'):
        structured.validate('[{"x": 1, "y": 2}]')
    assert StructuredOutput(Literal["yes", "no"]).validate('{"result": "no"}') == "no"


def test_problems_name_the_fields_without_echoing_values() -> None:
    structured = StructuredOutput(Point)
    with pytest.raises(OutputInvalid) as caught:
        structured.validate('{"x": "secret-value", "label": 3}')
    message = str(caught.value)
    assert "x: Input should be a valid integer" in message and "y: Field required" in message
    assert "secret-value" not in message
    with pytest.raises(OutputInvalid, match="not valid JSON"):
        structured.validate("Sure! Here is the point: (1, 2)")


def test_an_unusable_output_type_is_named() -> None:
    class Opaque:
        pass

    with pytest.raises(TypeError, match=r"output_type=.*Opaque.* is not a type pydantic can validate"):
        Agent(name="A", output_type=Opaque)


def test_info_shows_the_output_schema() -> None:
    agent = Agent(name="Mapper", output_type=Point)
    assert agent.info()["output_schema"] == Point.model_json_schema()
    assert "output_schema" not in Agent(name="Plain").info()


async def test_a_reflection_agent_returns_the_object_of_its_best_answer(openai: OpenAIServer) -> None:
    from azurefunctions.agents import ReflectionAgent, Runner

    def prefer_x1(question: str, answer: str) -> tuple[float, str]:
        return (0.9, "good") if '"x":1' in answer else (0.1, "use x=1")

    agent = ReflectionAgent(name="Mapper", output_type=Point, evaluation_function=prefer_x1,
                            max_reflection_iterations=2, reflection_threshold=0.95)
    openai.script.add(Reply(text='{"x": 1, "y": 1}'), Reply(text='{"x": 2, "y": 2}'))
    response = await Runner(agent).run("Where?")
    await agent.aclose()
    assert response.status == "success", response.error
    assert response.to_dict()["reflection"]["best_iteration"] == 1
    assert response.output == Point(x=1, y=1)
    assert response.response == '{"x":1,"y":1,"label":null}'
