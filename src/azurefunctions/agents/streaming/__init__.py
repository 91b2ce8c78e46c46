"""A streamed turn as the caller sees it, whatever started it: SSE encoding of the turn's events (``sse``) and
the turn that runs while its events are kept for resuming (``live``). The HTTP surfaces and background
workers both use it, so it imports neither."""
