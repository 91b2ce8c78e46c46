"""Cold start: each provider SDK is imported only by the agent that uses it (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SDKS = ["openai", "anthropic", "google.genai", "ollama"]

PROBE = textwrap.dedent("""
    import json, sys
    import azurefunctions.agents
    from azurefunctions.agents.types import LLMConfig, LLMProvider
    before = {name: name in sys.modules for name in SDKS}
    if PROVIDER:
        from azurefunctions.agents.providers.factory import create_provider
        create_provider(LLMConfig(provider=LLMProvider(PROVIDER), model_name="m", api_key="k",
                                  base_url="http://127.0.0.1:9"))
    after = {name: name in sys.modules for name in SDKS}
    print(json.dumps({"before": before, "after": after}))
""")


def probe(provider: str | None) -> dict[str, dict[str, bool]]:
    code = f"SDKS = {SDKS!r}\nPROVIDER = {provider!r}\n" + PROBE
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "GOOGLE_"))}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    result: dict[str, dict[str, bool]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_importing_the_package_imports_no_model_sdk() -> None:
    modules = probe(None)
    assert modules["before"] == dict.fromkeys(SDKS, False)


@pytest.mark.parametrize(("provider", "sdk"), [
    ("anthropic", "anthropic"), ("google", "google.genai"), ("ollama", "ollama"),
])
def test_building_a_provider_imports_its_sdk_only(provider: str, sdk: str) -> None:
    modules = probe(provider)
    assert modules["before"] == dict.fromkeys(SDKS, False)
    assert modules["after"] == {name: name == sdk for name in SDKS}
