"""The playground as one of an app's own routes, for ``AgentFunctionApp(playground=True)``.

It sits beside the agents listing (``api/agents`` -> ``api/playground``), so the page finds the API from its
own URL, and it belongs to the ``info`` route group: the app's auth level and, with Entra ID, a signed-in
caller, like ``GET /api/agents``. It is not in the OpenAPI description: it is a page, not an API.
"""

from __future__ import annotations

from ..http.calls import HttpCall, HttpReply
from ..http.routes import STANDARD_ROUTES, RouteSpec
from . import HTML_TYPE, ROUTE_NAME, render_page


def route_spec() -> RouteSpec:
    listing = next(spec for spec in STANDARD_ROUTES if spec.handler == "list_agents")
    folder = listing.route.rpartition("/")[0]
    return RouteSpec("playground", f"{folder}/{ROUTE_NAME}" if folder else ROUTE_NAME, ("GET",), "info",
                     "playground", "The playground page.")


async def serve_page(call: HttpCall) -> HttpReply:
    """The page (the pipeline has answered other methods than GET with 405)."""
    body, headers = render_page()
    return HttpReply(status=200, headers=headers, body=body, media_type=HTML_TYPE)
