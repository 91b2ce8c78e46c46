"""Every handoff mode, strategy and control-return rule, with a scripted model behind the real openai SDK."""

from __future__ import annotations

import pytest

from azurefunctions.agents import Agent, AgentFunctionApp, Runner
from azurefunctions.agents.events import HandoffOccurred, TurnCompleted
from azurefunctions.agents.handoff import ControlReturn, HandoffConfig, HandoffMode, HandoffStrategy, HandoffTarget
from azurefunctions.agents.sessions.memory import MemorySessionStore
from azurefunctions.agents.tools import ToolContext
from azurefunctions.agents.types import LLMConfig
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall


def transfer(target: str) -> Reply:
    return Reply(tool_calls=[ScriptedToolCall(f"transfer_to_{target}", {"reason": f"{target} knows"})])


def app_runner(*agents: Agent, store: MemorySessionStore | None = None) -> Runner:
    app = AgentFunctionApp(agents=list(agents), create_triggers=False,
                           session_store=store or MemorySessionStore())
    return app.runners[agents[0].name]


def swarm_pair(max_hops: int = 5) -> tuple[Agent, Agent]:
    weather = Agent(name="weather", instructions="You provide weather information",
                    handoff_config=HandoffConfig(mode=HandoffMode.SWARM, max_hops=max_hops,
                                                 targets=[HandoffTarget(agent_name="temperature_converter")]))
    converter = Agent(name="temperature_converter", instructions="You convert temperatures between units",
                      handoff_config=HandoffConfig(mode=HandoffMode.SWARM, max_hops=max_hops,
                                                   targets=[HandoffTarget(agent_name="weather")]))
    return weather, converter


async def test_swarm_transfer_the_target_answers_the_user(openai: OpenAIServer) -> None:
    weather, converter = swarm_pair()
    store = MemorySessionStore()
    runner = app_runner(weather, converter, store=store)
    openai.script.add_for("You provide weather", transfer("temperature_converter"))
    openai.script.add_for("You convert", Reply(text="22°C is 71.6°F."))
    events = [e async for e in runner.run_stream({"message": "22C in F?", "session_id": "swarm-1"})]
    done = events[-1]
    assert isinstance(done, TurnCompleted)
    assert done.response.response == "22°C is 71.6°F."
    assert done.response.agent == "temperature_converter"
    assert done.response.handoff_path == ["weather", "temperature_converter"]
    assert [(e.from_agent, e.to_agent) for e in events if isinstance(e, HandoffOccurred)] == [
        ("weather", "temperature_converter")]
    assert done.response.to_dict()["contributions"] == [
        {"agent": "temperature_converter", "response": "22°C is 71.6°F."}]
    # The target saw the conversation so far, and the session follows the handoff.
    converter_request = next(r for r in openai.script.requests if r["messages"][0]["content"].startswith("You convert"))
    assert any(m.get("content") == "22C in F?" for m in converter_request["messages"])
    assert (await store.load("swarm-1")).active_agent == "temperature_converter"  # type: ignore[union-attr]


async def test_max_hops_stops_a_two_agent_ping_pong_after_two_hops(openai: OpenAIServer) -> None:
    weather, converter = swarm_pair(max_hops=2)
    openai.script.add_for("You provide weather", transfer("temperature_converter"), transfer("temperature_converter"),
                          Reply(text="I will answer myself: it is mild."))
    openai.script.add_for("You convert", transfer("weather"))
    response = await app_runner(weather, converter).run("ping pong")
    assert response.handoff_path == ["weather", "temperature_converter", "weather"]
    assert response.response == "I will answer myself: it is mild."
    assert "max_hops=2 reached" in response.to_dict()["handoff_stopped"]
    refused = [c for c in response.tool_calls if c.is_error]
    assert refused and "Handoff refused" in (refused[0].result or "")


async def test_a_repeated_edge_is_a_cycle(openai: OpenAIServer) -> None:
    weather, converter = swarm_pair(max_hops=10)
    openai.script.add_for("You provide weather", transfer("temperature_converter"), transfer("temperature_converter"),
                          Reply(text="done"))
    openai.script.add_for("You convert", transfer("weather"))
    response = await app_runner(weather, converter).run("loop")
    assert "cycle detected: weather -> temperature_converter again" in response.to_dict()["handoff_stopped"]
    assert response.response == "done"


async def test_coordinator_consolidates_specialists_called_concurrently(openai: OpenAIServer) -> None:
    coordinator = Agent(name="travel_coordinator", instructions="You coordinate travel planning",
                        handoff_config=HandoffConfig(mode=HandoffMode.COORDINATOR, targets=[
                            HandoffTarget(agent_name="flight_agent"), HandoffTarget(agent_name="hotel_agent")]))
    flights = Agent(name="flight_agent", instructions="You search for flights", description="Flights")
    hotels = Agent(name="hotel_agent", instructions="You search for hotels", description="Hotels")
    openai.script.add_for("You coordinate", Reply(tool_calls=[
        ScriptedToolCall("ask_flight_agent", {"message": "Flights SEA to NRT on May 3"}),
        ScriptedToolCall("ask_hotel_agent", {"message": "Hotels in Tokyo May 3-7"})]),
        Reply(text="Plan: fly NH177; stay at Hotel Sakura."))
    openai.script.add_for("You search for flights", Reply(text="NH177 departs 13:00."))
    openai.script.add_for("You search for hotels", Reply(text="Hotel Sakura, 4 nights."))
    response = await app_runner(coordinator, flights, hotels).run("Plan a trip to Tokyo with flights and hotels")
    assert response.response == "Plan: fly NH177; stay at Hotel Sakura."
    assert response.agent == "travel_coordinator"
    assert response.handoff_path[0] == "travel_coordinator"
    assert sorted(response.handoff_path[1:]) == ["flight_agent", "hotel_agent"]
    assert {c.name: c.result for c in response.tool_calls} == {
        "ask_flight_agent": "NH177 departs 13:00.", "ask_hotel_agent": "Hotel Sakura, 4 nights."}
    contributions = {c["agent"]: c["response"] for c in response.to_dict()["contributions"]}
    assert contributions == {"flight_agent": "NH177 departs 13:00.", "hotel_agent": "Hotel Sakura, 4 nights.",
                             "travel_coordinator": "Plan: fly NH177; stay at Hotel Sakura."}
    specialist = next(r for r in openai.script.requests if r["messages"][0]["content"] == "You search for flights")
    assert specialist["messages"][1] == {"role": "user", "content": "Flights SEA to NRT on May 3"}


async def test_sequential_chain_passes_each_answer_on(openai: OpenAIServer) -> None:
    drafter = Agent(name="drafter", instructions="You draft", handoff_config=HandoffConfig(
        mode=HandoffMode.SEQUENTIAL, targets=[HandoffTarget(agent_name="editor"),
                                              HandoffTarget(agent_name="translator")]))
    editor = Agent(name="editor", instructions="You edit")
    translator = Agent(name="translator", instructions="You translate")
    openai.script.add_for("You draft", Reply(text="draft text"))
    openai.script.add_for("You edit", Reply(text="edited text"))
    openai.script.add_for("You translate", Reply(text="texte traduit"))
    response = await app_runner(drafter, editor, translator).run("Write a note")
    assert response.response == "texte traduit" and response.agent == "translator"
    assert response.handoff_path == ["drafter", "editor", "translator"]
    inputs = {r["messages"][0]["content"]: r["messages"][-1]["content"] for r in openai.script.requests}
    assert inputs == {"You draft": "Write a note", "You edit": "draft text", "You translate": "edited text"}


async def test_conditions_route_without_a_model_call(openai: OpenAIServer) -> None:
    def needs_translation(request_data: dict) -> bool:
        return "translate" in request_data.get("message", "").lower()

    router = Agent(name="multilingual_assistant", instructions="You help with multilingual requests",
                   handoff_config=HandoffConfig(mode=HandoffMode.CONDITIONAL, targets=[
                       HandoffTarget(agent_name="translator", condition=needs_translation)]))
    translator = Agent(name="translator", instructions="You translate")
    openai.script.add_for("You translate", Reply(text="Bonjour"))
    response = await app_runner(router, translator).run("Please translate hello to French")
    assert response.response == "Bonjour" and response.handoff_path == ["multilingual_assistant", "translator"]
    assert [r["messages"][0]["content"] for r in openai.script.requests] == ["You translate"]
    openai.script.add_for("You help", Reply(text="Happy to help."))
    plain = await app_runner(router, translator).run("What time is it?")
    assert plain.handoff_path == ["multilingual_assistant"] and plain.response == "Happy to help."


async def test_context_keys_pass_only_those_keys(openai: OpenAIServer) -> None:
    seen: dict = {}

    def show_context(ctx: ToolContext) -> str:
        seen.update(ctx.context)
        return "ok"

    front = Agent(name="front", instructions="You triage", handoff_config=HandoffConfig(
        mode=HandoffMode.CONDITIONAL, targets=[HandoffTarget(agent_name="specialist", condition=lambda r: True,
                                                             context_keys=["user_preferences", "session_data"])]))
    specialist = Agent(name="specialist", instructions="You specialise", tools=[show_context])
    openai.script.add_for("You specialise", Reply(tool_calls=[ScriptedToolCall("show_context")]), Reply(text="done"))
    await app_runner(front, specialist).run({"message": "hi", "context": {
        "user_preferences": {"units": "metric"}, "session_data": 1, "credit_card": "4111"}})
    assert seen == {"user_preferences": {"units": "metric"}, "session_data": 1}


async def test_best_match_routing_picks_the_target_from_descriptions(openai: OpenAIServer) -> None:
    coordinator = Agent(name="concierge", instructions="You are the concierge", handoff_config=HandoffConfig(
        mode=HandoffMode.COORDINATOR, strategy=HandoffStrategy.BEST_MATCH, enable_auto_routing=True,
        routing_instructions="Choose the agent best suited for the user's request",
        targets=[HandoffTarget(agent_name="flight_agent", description="Books flights"),
                 HandoffTarget(agent_name="hotel_agent", description="Books hotels")]))
    flights = Agent(name="flight_agent", instructions="You search for flights")
    hotels = Agent(name="hotel_agent", instructions="You search for hotels")
    openai.script.add_for("Choose the agent", Reply(text='{"agent": "hotel_agent"}'))
    openai.script.add_for("You search for hotels", Reply(text="Hotel Sakura has rooms."))
    response = await app_runner(coordinator, flights, hotels).run("I need a room in Tokyo")
    assert response.response == "Hotel Sakura has rooms."
    assert response.handoff_path == ["concierge", "hotel_agent"]
    routing = openai.script.requests[0]
    assert "- hotel_agent: Books hotels" in routing["messages"][0]["content"]
    assert routing["response_format"] == {"type": "json_object"}


async def test_best_match_asks_the_routing_model_of_routing_llm_config_and_the_target_its_own(
        openai: OpenAIServer) -> None:
    routing_model = LLMConfig(provider="openai", model_name="gpt-4.1-nano", api_key=openai.api_key,
                              base_url=openai.base_url, max_retries=0)
    concierge = Agent(name="concierge", instructions="You are the concierge", handoff_config=HandoffConfig(
        strategy=HandoffStrategy.BEST_MATCH, routing_llm_config=routing_model,
        routing_instructions="Choose the agent best suited for the user's request",
        targets=[HandoffTarget(agent_name="flight_agent", description="Books flights"),
                 HandoffTarget(agent_name="hotel_agent", description="Books hotels")]))
    flights = Agent(name="flight_agent", instructions="You search for flights")
    hotels = Agent(name="hotel_agent", instructions="You search for hotels")
    configured = dict(vars(concierge))
    openai.script.add_for("Choose the agent", Reply(text='{"agent": "hotel_agent"}'),
                          Reply(text='{"agent": "flight_agent"}'))
    openai.script.add_for("You search for hotels", Reply(text="Hotel Sakura has rooms."))
    openai.script.add_for("You search for flights", Reply(text="NH 7 leaves at 9."))
    runner = app_runner(concierge, flights, hotels)
    first = await runner.run("I need a room in Tokyo")
    second = await runner.run("And a flight there")
    assert (first.response, first.handoff_path) == ("Hotel Sakura has rooms.", ["concierge", "hotel_agent"])
    assert (second.response, second.handoff_path) == ("NH 7 leaves at 9.", ["concierge", "flight_agent"])
    models = [(request["messages"][0]["content"].split()[0], request["model"]) for request in openai.script.requests]
    assert models == [("Choose", "gpt-4.1-nano"), ("You", "gpt-4o-mini"), ("Choose", "gpt-4.1-nano"),
                      ("You", "gpt-4o-mini")]
    assert vars(concierge).keys() == configured.keys()  # the routing agent is not kept on the agent


async def test_return_to_caller_gives_the_answer_back(openai: OpenAIServer) -> None:
    caller = Agent(name="caller", instructions="You delegate", handoff_config=HandoffConfig(
        control_return=ControlReturn.RETURN_TO_CALLER, targets=[HandoffTarget(agent_name="helper")]))
    helper = Agent(name="helper", instructions="You help")
    openai.script.add_for("You delegate", transfer("helper"), Reply(text="The helper said 42."))
    openai.script.add_for("You help", Reply(text="42"))
    response = await app_runner(caller, helper).run("meaning of life?")
    assert response.response == "The helper said 42." and response.agent == "caller"
    assert response.tool_calls[0].result == "42"


async def test_end_conversation_closes_the_session(openai: OpenAIServer) -> None:
    store = MemorySessionStore()
    front = Agent(name="front", instructions="You triage", handoff_config=HandoffConfig(targets=[
        HandoffTarget(agent_name="closer", control_return=ControlReturn.END_CONVERSATION)]))
    closer = Agent(name="closer", instructions="You close")
    openai.script.add_for("You triage", transfer("closer"))
    openai.script.add_for("You close", Reply(text="Goodbye!"))
    response = await app_runner(front, closer, store=store).run({"message": "bye", "session_id": "end-1"})
    assert response.response == "Goodbye!" and response.to_dict()["conversation_ended"] is True
    assert await store.load("end-1") is None


def test_app_refuses_unknown_targets() -> None:
    lonely = Agent(name="lonely", handoff_config=HandoffConfig(targets=[HandoffTarget(agent_name="ghost")]))
    with pytest.raises(ValueError, match="hands off to 'ghost'"):
        AgentFunctionApp(agents=[lonely], create_triggers=False)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="max_hops"):
        HandoffConfig(max_hops=-1)
    with pytest.raises(ValueError):
        HandoffConfig(mode="telepathy")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="condition must be callable"):
        HandoffTarget(agent_name="x", condition="yes")  # type: ignore[arg-type]


async def test_round_robin_continues_across_runners_and_leaves_the_agent_as_configured(
        openai: OpenAIServer) -> None:
    router = Agent(name="router", instructions="You route", enable_conversational_agent=False,
                   handoff_config=HandoffConfig(strategy=HandoffStrategy.ROUND_ROBIN,
                                                targets=[HandoffTarget(agent_name="first"),
                                                         HandoffTarget(agent_name="second")]))
    first = Agent(name="first", instructions="You are first", enable_conversational_agent=False)
    second = Agent(name="second", instructions="You are second", enable_conversational_agent=False)
    configured = dict(vars(router))
    openai.script.add_for("You are first", Reply(text="one"), Reply(text="three"))
    openai.script.add_for("You are second", Reply(text="two"))
    agents = {agent.name: agent for agent in (router, first, second)}
    answers = [(await Runner(router, agents=agents).run("next")).agent for _ in range(3)]
    assert answers == ["first", "second", "first"]
    assert vars(router).keys() == configured.keys()


def test_a_handoff_config_of_another_type_is_refused_naming_it(openai: OpenAIServer) -> None:
    with pytest.raises(TypeError, match="handoff_config must be a HandoffConfig, got dict"):
        Agent(name="router", handoff_config={"targets": [{"agent_name": "first"}]})  # type: ignore[arg-type]
