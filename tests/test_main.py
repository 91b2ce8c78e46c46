"""The command line's ``--version``: what a user runs to learn which runtime a Function App has."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import azurefunctions.agents


def test_version_prints_the_installed_distribution_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "azurefunctions.agents", "--version"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    installed = version("azurefunctions-agent-framework")
    assert installed == azurefunctions.agents.__version__  # the wheel's version comes from __version__
    assert proc.stdout.strip() == (f"azurefunctions-agent-framework {installed} "
                                   f"(Python {sys.version.split()[0]})")
