"""Run every benchmark and print the tables; a full run also writes them into ``benchmarks/README.md``.

    .venv/bin/python benchmarks/run.py            # full run (about 6-9 minutes on 2 vCPU)
    .venv/bin/python benchmarks/run.py --quick    # smoke run (about 1-2 minutes), README untouched

Runners: the floor (a bare ``openai`` tool loop), this project (``Runner``; and its HTTP route through the
local host), ``openai-agents``, Microsoft ``agent-framework``, and the seed package when it installs. Peers are
installed from PyPI into ``benchmarks/.venvs/`` on first use. See ``benchmarks/README.md`` for how to read
the results.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import phases
from bench.procs import ModelServer
from bench.report import render, update_readme
from bench.runners import BENCH_DIR, all_runners, prepare

PHASES = ["import", "indexing", "first", "turns", "concurrency", "http", "http-concurrency", "streaming",
          "sessions"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and turns; does not touch README.md")
    parser.add_argument("--phases", default=",".join(PHASES),
                        help=f"comma-separated subset of: {', '.join(PHASES)}")
    parser.add_argument("--runners", default="",
                        help="comma-separated runner names to keep (default: all; the floor is always kept)")
    parser.add_argument("--no-readme", action="store_true", help="do not write the tables into README.md")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / ".results",
                        help="folder for results.md and results.json (default: benchmarks/.results)")
    args = parser.parse_args(argv)
    chosen = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = sorted(set(chosen) - set(PHASES))
    if unknown:
        parser.error(f"--phases: unknown phase(s) {', '.join(unknown)}; choose from {', '.join(PHASES)}")
    plan = phases.Plan.quick() if args.quick else phases.Plan()
    started = time.perf_counter()

    specs = all_runners()
    if args.runners:
        keep = {n.strip() for n in args.runners.split(",")} | {"floor"}
        specs = [s for s in specs if s.name in keep or s.name.split()[0] in keep]
    log("preparing runners")
    prepare(specs, log=log)
    for spec in specs:
        if not spec.available:
            log(f"  {spec.name}: not run — {spec.problem}")
            if not spec.optional:
                return 1
    ready = [s for s in specs if s.available]

    results = phases.Results()
    fast = ModelServer(0)
    slow = ModelServer(plan.latency_ms)
    try:
        if "import" in chosen:
            log("cold start: import")
            phases.cold_import(ready, plan, results, log)
        if "indexing" in chosen:
            log("cold start: indexing")
            phases.indexing(plan, results, log)
        if "first" in chosen:
            log("cold start: import + build + first answer")
            phases.first_answer(ready, plan, fast, results, log)
        if "turns" in chosen:
            log("per-turn overhead")
            phases.per_turn(ready, plan, fast, results, log)
        if "concurrency" in chosen:
            log("concurrency")
            phases.concurrency(ready, plan, slow, results, log)
        if "http" in chosen:
            log("HTTP route")
            phases.http_route(plan, fast, results, log)
        if "http-concurrency" in chosen:
            log("HTTP route under load")
            phases.http_concurrency(plan, slow, results, log)
    finally:
        fast.stop()
        slow.stop()
    if "streaming" in chosen:
        phases.companion("streaming_bench.py", [], results, log)
    if "sessions" in chosen:
        phases.companion("sessions_bench.py", ["--turns", "100" if args.quick else "1000",
                                               "--backends", "memory,sqlite,cosmos"], results, log)

    took = time.perf_counter() - started
    table = render(specs, results, plan, quick=args.quick, took_s=took)
    print(table)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "results.md").write_text(table, encoding="utf-8")
    (args.output / "results.json").write_text(json.dumps(
        {"plan": asdict(plan), "data": results.data, "notes": results.notes,
         "versions": {s.name: s.versions for s in specs}}, indent=1), encoding="utf-8")
    if not args.quick and not args.no_readme and set(chosen) >= set(PHASES) - {"streaming", "sessions"}:
        update_readme(BENCH_DIR / "README.md", table)
        log("wrote the tables into benchmarks/README.md")
    log(f"done in {took / 60:.1f} min; results in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
