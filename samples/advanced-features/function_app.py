"""Advanced features: a streaming agent served over Server-Sent Events (see streaming_responses.py).

An agent with ``streaming=True`` puts the app in streams mode: every route is served through the
``azurefunctions-extensions-http-fastapi`` types, which Azure Functions needs for HTTP streaming (with the app
setting ``PYTHON_ENABLE_INIT_INDEXING=1``). JSON routes behave exactly as in any other app.
"""

from streaming_responses import travel_guide

from azurefunctions.agents import AgentFunctionApp

app = AgentFunctionApp(agents={"TravelGuide": travel_guide})
