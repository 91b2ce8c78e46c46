"""The playground: one static page that talks to an app's agents through the app's public HTTP API.

The page is plain HTML, CSS and a small script kept as files beside this module (``static/``), assembled into
one document when served, so that it needs one route and no asset URLs (which would each need the function
key when the app requires one). Nothing is downloaded at run time and there is no build step.

It is served by the local host at ``/playground`` (``python -m azurefunctions.agents serve``) and, only when an
app asks for it with ``AgentFunctionApp(playground=True)``, by the app itself beside its agents routes, behind
the same auth as the chat route. The page learns where the API is from ``api_base`` (the local host knows its
route table) or, when that is empty, from its own URL: served by the app, it sits beside ``agents``.
"""

from __future__ import annotations

import base64
import hashlib
import html
from functools import lru_cache
from importlib import resources

#: Where the local host serves the page (after the app's own routes, which win).
LOCAL_PATH = "/playground"
#: The page's last path segment when an app serves it beside its own routes.
ROUTE_NAME = "playground"
HTML_TYPE = "text/html"  # adapters add "; charset=utf-8" (the page also declares it)

_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@lru_cache(maxsize=4)
def _static(name: str) -> str:
    return (resources.files(__package__) / "static" / name).read_text(encoding="utf-8")


def _digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def render_page(api_base: str = "") -> tuple[bytes, dict[str, str]]:
    """The page as one HTML document and the headers to send with it.

    ``api_base`` is the path before ``/agents`` (``""``: the page finds it from its own URL). The
    Content-Security-Policy admits only the page's own inline style and script (by digest) and requests to
    its own origin: the page loads nothing from elsewhere and cannot be framed.
    """
    css = _static("playground.css")
    script = _static("playground.js").replace("</", "<\\/")
    page = _static("index.html")
    page = page.replace("{{API_BASE}}", html.escape(api_base.rstrip("/"), quote=True))
    page = page.replace("<style></style>", f"<style>{css}</style>")
    page = page.replace("<script></script>", f"<script>{script}</script>")
    policy = (f"default-src 'none'; style-src {_digest(css)}; script-src {_digest(script)}; "
              "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'none'")
    return page.encode("utf-8"), {**_HEADERS, "Content-Security-Policy": policy}
