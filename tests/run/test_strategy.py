"""A turn strategy shapes an agent's answer around the loop it is given, through the real Runner and openai SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from azurefunctions.agents import Agent, Runner
from azurefunctions.agents.events import TextDelta, TurnCompleted
from azurefunctions.agents.messages import Message
from azurefunctions.agents.run import AnswerLoop, Final, FinalText, Turn, TurnStrategy
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply


class SecondOpinion(Agent):
    """Answers twice with the loop it is given and keeps both answers: a strategy of its own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loops: list[AnswerLoop] = []

    async def answer_turn(self, turn: Turn, agent: Agent, history: list[Message], stream: bool,
                          loop: AnswerLoop) -> AsyncIterator[Any]:
        self.loops.append(loop)
        texts = []
        for _ in range(2):
            answer = FinalText(loop(turn, self, history, stream))
            async for event in answer:
                yield event
            texts.append(answer.text)
        yield Final(" / ".join(texts))


async def test_an_agent_with_its_own_strategy_answers_through_the_loop_it_is_given(openai: OpenAIServer) -> None:
    agent = SecondOpinion(name="twice", instructions="You answer", enable_conversational_agent=False)
    assert isinstance(agent, TurnStrategy) and not isinstance(Agent(name="plain"), TurnStrategy)
    openai.script.add_for("You answer", Reply(text="first"), Reply(text="second"))
    events = [event async for event in Runner(agent).run_stream("Question?")]
    completed = events[-1]
    assert isinstance(completed, TurnCompleted) and completed.response.response == "first / second"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "firstsecond"
    assert len(agent.loops) == 1 and len(openai.script.requests) == 2


async def test_final_text_passes_every_event_on_and_keeps_the_answer() -> None:
    async def answer() -> AsyncIterator[Any]:
        yield TextDelta(agent="a", text="hel")
        yield TextDelta(agent="a", text="lo")
        yield Final("hello")

    unwrapped = FinalText(answer())
    assert [event.text async for event in unwrapped] == ["hel", "lo"]
    assert unwrapped.text == "hello"
