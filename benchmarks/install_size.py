"""Deployed install size and cold import time of a sample, as the Functions remote build would install it.

For each variant (a source tree and the extras the sample lists), builds the runtime's wheel from that tree,
installs ``azurefunctions-agent-framework[EXTRAS]`` with ``pip install --target`` (what the remote build does
with requirements.txt) into a fresh folder and reports its size. Then times ``import function_app`` (what the
worker does when it indexes) in fresh processes that see only that folder and the sample, alternating between
the variants round by round so a busy machine weighs on all of them alike.

    git archive 1f18524 | tar -x -C /tmp/old
    python benchmarks/install_size.py /tmp/old:openai,azure .:openai,keyvault,cosmos,monitor
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
TIMER = ("import sys, time; n = len(sys.modules); t = time.perf_counter(); import function_app; "
         "print(round((time.perf_counter() - t) * 1000, 1), len(sys.modules) - n)")


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def install(source: Path, extras: str, into: Path) -> Path:
    wheels, site = into / "wheels", into / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels),
                    str(source)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(site),
                    "--find-links", str(wheels), f"azurefunctions-agent-framework[{extras}]"], check=True)
    return site


def import_ms(site: Path, sample: Path, home: str) -> tuple[float, int]:
    """Milliseconds ``import function_app`` took in a fresh process, and how many modules it loaded."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": f"{site}{os.pathsep}{sample}",
           "PYTHONDONTWRITEBYTECODE": "1", "HOME": home}
    out = subprocess.run([sys.executable, "-c", TIMER], cwd=sample, env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    ms, modules = out.stdout.strip().splitlines()[-1].split()
    return float(ms), int(modules)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", help="SOURCE_TREE:EXTRAS, e.g. .:openai,keyvault,cosmos,monitor")
    parser.add_argument("--sample", type=Path, default=ROOT / "samples" / "single-agent")
    parser.add_argument("--rounds", type=int, default=15, help="fresh processes timing the import, per variant")
    args = parser.parse_args(argv)

    report = []
    with tempfile.TemporaryDirectory(prefix="install-size-") as tmp:
        sites = []
        for index, variant in enumerate(args.variants):
            source, _, extras = variant.rpartition(":")
            site = install(Path(source).resolve(), extras, Path(tmp) / str(index))
            sites.append(site)
            report.append({"variant": variant, "installed_mb": round(folder_bytes(site) / 2**20, 1),
                           "distributions": sorted(p.name.removesuffix(".dist-info")
                                                   for p in site.glob("*.dist-info")), "import_ms": []})
        import_ms(sites[0], args.sample, tmp)  # warm the OS file cache once
        for _ in range(args.rounds):
            for entry, site in zip(report, sites, strict=True):
                ms, modules = import_ms(site, args.sample, tmp)
                entry["import_ms"].append(ms)
                entry["modules"] = modules
    for entry in report:
        times = entry.pop("import_ms")
        entry.update(import_ms_median=statistics.median(times), import_ms_min=min(times),
                     import_ms_max=max(times), python=sys.version.split()[0])
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
