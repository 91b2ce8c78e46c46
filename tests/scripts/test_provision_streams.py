"""`azd provision` sets PYTHON_ENABLE_INIT_INDEXING for apps that stream: A2A apps do (their `a2a` extra brings
the HTTP-streams extension), so a sample naming that extra is a streaming sample."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_provision(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    # azd runs the hook as a script (samples' azure.yaml: `run: ../../scripts/azd/provision.py`), so Python puts
    # the script's directory first on sys.path and `from pulumi_hook import ...` finds its sibling; same here.
    monkeypatch.syspath_prepend(str(ROOT / "scripts" / "azd"))
    spec = importlib.util.spec_from_file_location("provision_under_test", ROOT / "scripts" / "azd" / "provision.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a2a_and_streaming_samples_stream_and_the_others_do_not(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    provision = load_provision(monkeypatch)
    assert provision.sample_streams(ROOT / "samples" / "a2a")
    assert provision.sample_streams(ROOT / "samples" / "advanced-features")
    assert not provision.sample_streams(ROOT / "samples" / "single-agent")
    for line, streams in (("azurefunctions-agent-framework[openai, a2a]>=0.1", True),
                          ("azurefunctions-agent-framework[openai]>=0.1  # a2a later", False),
                          ("azurefunctions-agent-framework[openai,a2a-extra]", False)):
        (tmp_path / "requirements.txt").write_text(line + "\n", encoding="utf-8")
        assert provision.sample_streams(tmp_path) is streams, line
