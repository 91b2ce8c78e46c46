"""The playground's static files ship in the wheel (hatchling packs every file under the package folder), and
the page assembled from them is one self-contained document."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from azurefunctions.agents.playground import render_page

ROOT = Path(__file__).resolve().parents[2]
STATIC = ("index.html", "playground.css", "playground.js")


def test_wheel_contains_the_static_files(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp_path),
                    str(ROOT)], check=True, timeout=300)
    (wheel,) = tmp_path.glob("azurefunctions_agent_framework-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in STATIC:
        assert f"azurefunctions/agents/playground/static/{name}" in names


def test_page_inlines_its_style_and_script_and_loads_nothing_else() -> None:
    body, headers = render_page("/v1/")
    page = body.decode("utf-8")
    assert '<meta name="agents-api-base" content="/v1">' in page
    assert "<style></style>" not in page and "<script></script>" not in page
    assert "src=" not in page and "<link rel=\"stylesheet\"" not in page and "://" not in page  # nothing fetched
    assert headers["Content-Security-Policy"].count("'sha256-") == 2
    assert render_page('"><script>alert(1)</script>')[0].count(b"<script>") == 1  # the base is escaped
