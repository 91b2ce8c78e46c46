"""``ReflectionAgent``: answer, evaluate, improve with the feedback, until good enough; return the best.

All state of a request lives in the call (nothing on the agent), so concurrent requests never see each
other's attempts. The evaluation is structured output (score 0-1 and feedback), validated; an unparsable
evaluation is retried once and then reported as failed, never raised.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from .agent import Agent
from .events import ReflectionEvaluated
from .messages import Message
from .providers.base import ModelRequest, ModelResponse
from .run.strategy import AnswerLoop
from .run.turn import Final, FinalText, Turn
from .types import LLMConfig

logger = logging.getLogger("azurefunctions.agents.reflection")

DEFAULT_EVALUATION_PROMPT = (
    "You are a strict reviewer. Score how well the answer serves the user's request, from 0.0 (useless) to "
    "1.0 (complete, correct and clear), and say concretely what would improve it. Reply with only a JSON "
    'object: {"score": <number 0..1>, "feedback": "<what to improve>"}.'
)

EvaluationResult = tuple[float, str] | dict[str, Any] | float
EvaluationFunction = Callable[[str, str], EvaluationResult | Awaitable[EvaluationResult]]


class Evaluation(BaseModel):
    score: float = Field(ge=0.0, le=1.0)
    feedback: str = ""


@dataclass
class Attempt:
    iteration: int
    answer: str
    messages: list[Message]
    score: float | None
    feedback: str

    def to_dict(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "answer": self.answer, "score": self.score,
                "feedback": self.feedback}


class ReflectionAgent(Agent):
    """An ``Agent`` that reviews and improves its own answers (every ``Agent`` keyword is accepted)."""

    def __init__(self, name: str, *args: Any, max_reflection_iterations: int = 3,
                 reflection_threshold: float = 0.8, enable_self_evaluation: bool = True,
                 evaluation_prompt: str | None = None, evaluation_function: EvaluationFunction | None = None,
                 evaluator_llm_config: LLMConfig | None = None, **kwargs: Any) -> None:
        super().__init__(name, *args, **kwargs)
        if not isinstance(max_reflection_iterations, int) or max_reflection_iterations < 1:
            raise ValueError("max_reflection_iterations must be an integer of at least 1")
        if not 0.0 <= float(reflection_threshold) <= 1.0:
            raise ValueError("reflection_threshold must be between 0 and 1")
        if evaluation_function is not None and not callable(evaluation_function):
            raise TypeError("evaluation_function must be callable")
        self.max_reflection_iterations = max_reflection_iterations
        self.reflection_threshold = float(reflection_threshold)
        self.enable_self_evaluation = enable_self_evaluation
        self.evaluation_prompt = evaluation_prompt or DEFAULT_EVALUATION_PROMPT
        self.evaluation_function = evaluation_function
        self.evaluator = self.derive("evaluator", instructions=self.evaluation_prompt,
                                     llm_config=evaluator_llm_config)

    def info(self) -> dict[str, Any]:
        data = super().info()
        data["reflection"] = {"max_iterations": self.max_reflection_iterations,
                              "threshold": self.reflection_threshold,
                              "self_evaluation": self.enable_self_evaluation,
                              "custom_evaluation": self.evaluation_function is not None}
        return data

    async def answer_turn(self, turn: Turn, agent: Agent, history: list[Message], stream: bool,
                          loop: AnswerLoop) -> AsyncIterator[Any]:
        """The turn strategy (run/strategy.py) of a reflecting agent: ``loop`` (the model/tool loop) answers,
        the answer is evaluated, and ``loop`` answers again with the feedback, up to the iteration limit."""
        evaluates = self.evaluation_function is not None or self.enable_self_evaluation
        question = history[-1].content
        base = list(history)
        attempts: list[Attempt] = []
        working = list(base)
        for iteration in range(1, self.max_reflection_iterations + 1):
            answer = FinalText(loop(turn, self, working, stream))
            async for event in answer:
                yield event
            text = answer.text
            if not evaluates:
                attempts.append(Attempt(iteration, text, working[len(base):], None, ""))
                break
            score, feedback = await self._evaluate(turn, question, text, stream)
            met = score is not None and score >= self.reflection_threshold
            attempts.append(Attempt(iteration, text, working[len(base):], score, feedback))
            yield ReflectionEvaluated(agent=self.name, iteration=iteration, score=score, feedback=feedback,
                                      threshold_met=met)
            if met or score is None or iteration == self.max_reflection_iterations:
                break
            working = [*working, Message(role="user", content=(
                f"A reviewer scored your answer {score:.2f} of 1.0. Feedback: {feedback}\n"
                "Write an improved, complete answer to the original request."))]
        scored = [a for a in attempts if a.score is not None]
        best = max(scored, key=lambda a: a.score or 0.0) if scored else attempts[-1]
        first = attempts[0]
        # The session keeps the first attempt's tool work and the best answer, not the review exchange.
        kept = [m for m in first.messages if not (m.role == "assistant" and not m.tool_calls)]
        history.extend(kept)
        history.append(Message(role="assistant", content=best.answer, agent=self.name))
        turn.metadata["reflection"] = {
            "final_score": best.score,
            "threshold": self.reflection_threshold,
            "threshold_met": best.score is not None and best.score >= self.reflection_threshold,
            "iterations": len(attempts),
            "evaluated": evaluates and best.score is not None,
            "best_iteration": best.iteration,
            "history": [a.to_dict() for a in attempts],
        }
        yield Final(best.answer)

    async def _evaluate(self, turn: Turn, question: str, answer: str, stream: bool) -> tuple[float | None, str]:
        if self.evaluation_function is not None:
            try:
                result = self.evaluation_function(question, answer)
                if inspect.isawaitable(result):
                    result = await result
                parsed = _coerce(result)
            except Exception as exc:
                logger.warning("evaluation function of %s failed: %s", self.name, type(exc).__name__)
                return None, f"evaluation failed: {type(exc).__name__}"
            return parsed.score, parsed.feedback
        request = ModelRequest(
            model=self.evaluator.llm_config.model_name, system=self.evaluation_prompt, json_output=True,
            messages=[Message(role="user", content=f"Request:\n{question}\n\nAnswer:\n{answer}")],
            temperature=0.0,
        )
        for _ in range(2):  # an unparsable evaluation is retried once
            response = await self._evaluator_answer(turn, request)
            turn.usage.add(response.usage)
            try:
                parsed = Evaluation.model_validate(json.loads(_json_object(response.text)))
            except (ValueError, ValidationError):
                continue
            return parsed.score, parsed.feedback
        return None, "evaluation failed: the evaluator's reply was not a valid score"


    async def _evaluator_answer(self, turn: Turn, request: ModelRequest) -> ModelResponse:
        """The evaluator's reply; in a journaled turn recorded like any model call, so a resumed turn replays
        the same evaluations (and reaches the same answer) instead of asking again."""
        from .run.replay import TurnReplay, model_step, recorded_response

        replay: TurnReplay | None = turn.replay
        if replay is None:
            return await self.evaluator.provider.complete(request)
        key = replay.next_model_key(f"{self.name}:evaluation")
        recorded = replay.recorded(key)
        if recorded is not None:
            return recorded_response(recorded)
        replay.checkpoint()
        response = await self.evaluator.provider.complete(request)
        await replay.record("model", model_step(key, self.name, response))
        return response


def _json_object(text: str) -> str:
    """The JSON object in a reply, tolerating code fences or prose around it."""
    start, end = text.find("{"), text.rfind("}")
    return text[start:end + 1] if start != -1 and end > start else text


def _coerce(result: Any) -> Evaluation:
    if isinstance(result, Evaluation):
        return result
    if isinstance(result, int | float):
        return Evaluation(score=float(result))
    if isinstance(result, tuple) and len(result) == 2:
        return Evaluation(score=float(result[0]), feedback=str(result[1]))
    if isinstance(result, dict):
        return Evaluation.model_validate(result)
    raise TypeError("an evaluation function returns a score, (score, feedback) or {'score', 'feedback'}")
