"""Loaded for every test (tests/ and samples/): the environment scrub and the loopback-only network guard."""

pytest_plugins = ["tests.servers.network_guard.plugin"]
