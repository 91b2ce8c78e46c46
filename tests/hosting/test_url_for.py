"""URLs the app hands out are built from the route table (``url_for``), under the prefix's ``api`` base."""

from __future__ import annotations

import pytest

from azurefunctions.agents.a2a.routes import RPC_ROUTE
from azurefunctions.agents.http.routes import ROUTES_BY_NAME, public_path, url_for


@pytest.mark.parametrize("prefix", ["", "api", "v1"])
def test_url_for_fills_the_documented_path_under_the_prefix(prefix: str) -> None:
    base = public_path("api", prefix) or "/"
    turn = url_for(ROUTES_BY_NAME["sessions_turn"], base, session_id="alice@contoso", turn_id="t_1")
    assert turn == f"{'/v1' if prefix == 'v1' else '/api'}/sessions/alice@contoso/turns/t_1"
    assert url_for(RPC_ROUTE, base, agent_name="weather").endswith("/agents/weather/a2a")


def test_url_for_quotes_values_and_names_a_missing_parameter() -> None:
    assert url_for(ROUTES_BY_NAME["agents_info"], "/api", agent_name="a b/c") == "/api/agents/a%20b%2Fc/info"
    with pytest.raises(ValueError, match="needs session_id="):
        url_for(ROUTES_BY_NAME["sessions_item"], "/api")
