"""WriterBot: a ReflectionAgent that reviews and improves its drafts before answering.

It scores each draft with a plain, deterministic rubric (``rubric.py``) and, when
REFLECTION_SELF_EVALUATION=true, with the model's own review instead.
"""

import os

from rubric import score_answer

from azurefunctions.agents import AgentFunctionApp, ReflectionAgent
from azurefunctions.agents.types import LLMConfig

self_evaluation = os.environ.get("REFLECTION_SELF_EVALUATION", "").lower() == "true"

writer = ReflectionAgent(
    name="WriterBot",
    instructions=(
        "You write short, concrete answers. When a reviewer gives feedback, rewrite the whole answer to "
        "address it."
    ),
    description="Answers, reviews its own draft, and improves it until it is good enough.",
    llm_config=LLMConfig.from_env(model_name="gpt-4o-mini"),
    max_reflection_iterations=3,
    reflection_threshold=0.8,
    enable_self_evaluation=self_evaluation,
    evaluation_function=None if self_evaluation else score_answer,
)

app = AgentFunctionApp(agents={"WriterBot": writer})
