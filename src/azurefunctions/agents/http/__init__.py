"""The HTTP side every surface shares, with no Azure Functions in it: call and reply types and the error
envelope (``calls``), the route table with ``url_for`` (``routes``), the pipeline every route goes through
(``pipeline``: the guard of ``guard``/``auth``, tracing, one error boundary) and host.json's route prefix
(``hostjson``). Surfaces (chat, sessions, A2A, MCP, background turns, the playground) build on it;
``hosting/`` wires them onto a Function App."""
