"""The Function App HTTP tests, unchanged, against the same app registered in streams mode: every JSON answer
(bodies, statuses, headers, errors) must be identical to the classic app's."""

from tests.hosting.test_http_routes import *  # noqa: F403
