"""Deployed install size and cold import time of a sample, as the Functions remote build would install it.

Builds the runtime's wheel from a source tree, installs ``azurefunctions-agent-framework[EXTRAS]`` with
``pip install --target`` (what the remote build does with requirements.txt) into a fresh folder, reports its
size on disk, then times ``import function_app`` (what the worker does when it indexes) in fresh processes
that see only that folder and the sample.

    python benchmarks/install_size.py --extras openai,keyvault,cosmos,monitor
    git archive 1f18524 | tar -x -C /tmp/old
    python benchmarks/install_size.py --source /tmp/old --extras openai,azure
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMER = ("import time; t = time.perf_counter(); import function_app; "
         "print(round((time.perf_counter() - t) * 1000, 1))")


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT, help="source tree to build the runtime from")
    parser.add_argument("--sample", type=Path, default=ROOT / "samples" / "single-agent")
    parser.add_argument("--extras", default="openai,keyvault,cosmos,monitor")
    parser.add_argument("--rounds", type=int, default=9, help="fresh processes timing the import")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="install-size-") as tmp:
        wheels, site = Path(tmp) / "wheels", Path(tmp) / "site"
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels),
                        str(args.source)], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(site),
                        "--find-links", str(wheels), f"azurefunctions-agent-framework[{args.extras}]"], check=True)
        size = folder_bytes(site)
        distributions = sorted(p.name.removesuffix(".dist-info") for p in site.glob("*.dist-info"))
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": f"{site}{os.pathsep}{args.sample}",
               "PYTHONDONTWRITEBYTECODE": "1", "HOME": tmp}
        # pip compiled the installed packages as the remote build does; each round is a fresh process.
        times = []
        for _ in range(args.rounds):
            out = subprocess.run([sys.executable, "-c", TIMER], cwd=args.sample, env=env,
                                 capture_output=True, text=True, timeout=120, check=True)
            times.append(float(out.stdout.strip().splitlines()[-1]))
    report = {"extras": args.extras, "installed_mb": round(size / 2**20, 1), "distributions": len(distributions),
              "import_ms_median": statistics.median(times), "import_ms_min": min(times),
              "import_ms_max": max(times), "python": sys.version.split()[0], "packages": distributions}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
