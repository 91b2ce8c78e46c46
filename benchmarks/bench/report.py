"""The results as Markdown tables: one per phase, then the targets and whether this run met them."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

from .phases import PROVIDER_SDKS, Plan, Results
from .runners import FLOOR, OURS, RunnerSpec
from .stats import Spread, paired

README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _spread(results: Results, phase: str, runner: str, metric: str, digits: int = 1) -> str:
    values = list(results.series(phase, runner, metric).values())
    return Spread.of(values).fmt(digits) if values else "-"


def _vs_floor(results: Results, phase: str, runner: str, metric: str, *, ratio: bool = False,
              digits: int = 2, floor: str = FLOOR) -> str:
    if runner == floor:
        return "1.00x" if ratio else "0"
    found = paired(results.series(phase, runner, metric), results.series(phase, floor, metric), ratio=ratio)
    if found is None:
        return "-"
    return found.fmt(digits, suffix="x") if ratio else found.fmt(digits, signed=True)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} vCPU ({cpu}){memory}, {platform.system()} {platform.release()}"


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, timeout=10).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def render(specs: list[RunnerSpec], results: Results, plan: Plan, *, quick: bool, took_s: float) -> str:
    names = [s.name for s in specs if s.available]
    out = [f"Run of {datetime.date.today().isoformat()} on {machine()}; Python {platform.python_version()}; "
           f"commit {commit()}; {'quick' if quick else 'full'} run, {took_s / 60:.1f} min. "
           f"Figures are medians over rounds, (lowest…highest round) after them; differences and ratios "
           f"against the floor are paired within each round.", ""]
    out += ["Versions:", ""]
    for spec in specs:
        versions = ", ".join(f"{k} {v}" for k, v in spec.versions.items()) or "-"
        state = "" if spec.available else f" — not run: {spec.problem}"
        out.append(f"- {spec.name}: {versions}{state}")
    out.append("")

    out += [f"### Cold start ({plan.import_rounds} rounds for imports, {plan.rounds} for first answers)", ""]
    rows = []
    for name in names:
        spec = next(s for s in specs if s.name == name)
        rows.append([name, f"`{spec.import_statement}`", _spread(results, "import", name, "ms"),
                     _spread(results, "first", name, "ms", 0), _vs_floor(results, "first", name, "ms", ratio=True)])
    out += _table(["runner", "import", "import ms over `python -c pass`", "import + build + first answer ms",
                   "x floor"], rows)
    python_ms = [v for n in names for v in results.series("import", n, "python_ms").values()]
    if python_ms:
        out += ["", f"`python -c pass` itself: {Spread.of(python_ms).fmt(1)} ms."]
    out.append("")

    out += ["### Indexing: `import function_app`, as the Functions worker does", ""]
    rows = []
    loaded = results.notes.get("indexing_loaded", {})
    for name in results.runners("indexing"):
        mods = loaded.get(name, [])
        sdks = [m for m in mods if m in PROVIDER_SDKS]
        rows.append([name, _spread(results, "indexing", name, "ms"), ", ".join(sdks) or "none",
                     ", ".join(m for m in mods if m not in PROVIDER_SDKS) or "-"])
    out += _table(["app", "ms", "provider SDKs loaded", "other watched modules loaded"], rows)
    out.append("")

    out += [f"### Per turn at zero model latency ({plan.turns} sequential turns after {plan.warmup} warm-up, "
            f"two model calls each)", ""]
    rows = [[n, _spread(results, "turns", n, "median_ms", 2), _spread(results, "turns", n, "p99_ms", 2),
             _spread(results, "turns", n, "cpu_ms", 2), _vs_floor(results, "turns", n, "cpu_ms"),
             _vs_floor(results, "turns", n, "median_ms")] for n in names]
    out += _table(["runner", "median ms", "p99 ms", "client CPU ms/turn", "CPU Δ floor ms", "median Δ floor ms"],
                  rows)
    out.append("")

    out += [f"### Concurrency: {plan.concurrency_turns} turns, {plan.concurrency} in flight, model latency "
            f"{plan.latency_ms:.0f} ms", ""]
    rows = [[n, _spread(results, "concurrency", n, "wall_s", 2),
             _vs_floor(results, "concurrency", n, "wall_s", ratio=True),
             _spread(results, "concurrency", n, "tps", 0), _spread(results, "concurrency", n, "cpu_ms", 2),
             _spread(results, "concurrency", n, "rss_mib", 1),
             _vs_floor(results, "concurrency", n, "rss_mib", digits=1)] for n in names]
    out += _table(["runner", "wall s", "x floor", "turns/s", "client CPU ms/turn", "peak RSS MiB",
                   "RSS Δ floor MiB"], rows)
    out.append("")

    out += [f"### HTTP: `POST /api/agents/WeatherBot/chat` through the local host, {plan.http_requests} "
            f"sequential requests to each app after {plan.http_warmup} warm-up, alternating between the two hosts", ""]
    rows = [[n, _spread(results, "http", n, "rps", 0), _spread(results, "http", n, "median_ms", 2),
             _spread(results, "http", n, "p99_ms", 2), _spread(results, "http", n, "host_cpu_ms", 2),
             _vs_floor(results, "http", n, "median_ms"), _vs_floor(results, "http", n, "host_cpu_ms")]
            for n in results.runners("http")]
    out += _table(["app", "req/s (1 / mean latency)", "median ms", "p99 ms", "host CPU ms/req", "median Δ floor ms",
                   "host CPU Δ floor ms"], rows)
    out.append("")

    out += [f"### HTTP under load: {plan.http_concurrent_requests} requests, {plan.concurrency} in flight, model "
            f"latency {plan.latency_ms:.0f} ms, each app on its own local host", ""]
    rows = [[n, _spread(results, "http_concurrency", n, "wall_s", 2),
             _vs_floor(results, "http_concurrency", n, "wall_s", ratio=True),
             _spread(results, "http_concurrency", n, "rps", 0),
             _spread(results, "http_concurrency", n, "host_cpu_ms", 2),
             _vs_floor(results, "http_concurrency", n, "host_cpu_ms", ratio=True)]
            for n in results.runners("http_concurrency")]
    out += _table(["app", "wall s", "x floor", "req/s", "host CPU ms/req", "host CPU x floor"], rows)
    out.append("")

    for script, found in results.notes.get("companions", {}).items():
        out += [f"### `{script} {' '.join(found['args'])}`", "", "```", found["output"], "```", ""]

    out += ["### Targets", ""]
    out += _table(["target", "this run", "met"], targets(names, results))
    return "\n".join(out) + "\n"


def _median(results: Results, phase: str, runner: str, metric: str) -> float | None:
    values = list(results.series(phase, runner, metric).values())
    return Spread.of(values).median if values else None


def targets(names: list[str], results: Results) -> list[list[str]]:
    rows: list[list[str]] = []

    def row(label: str, value: float | None, fmt: str, ok: bool | None) -> None:
        rows.append([label, "-" if value is None else fmt.format(value),
                     "-" if ok is None or value is None else ("yes" if ok else "**no**")])

    imp = _median(results, "import", OURS, "ms")
    row("`import azurefunctions.agents` ≤ 80 ms over `python -c pass`", imp, "{:.1f} ms",
        imp is not None and imp <= 80)
    loaded = results.notes.get("indexing_loaded", {}).get("single-agent sample")
    if loaded is not None:
        sdks = [m for m in loaded if m in PROVIDER_SDKS]
        rows.append(["indexing the single-agent sample loads no provider SDK", ", ".join(sdks) or "none",
                     "yes" if not sdks else "**no**"])

    def pair(phase: str, metric: str, ratio: bool) -> float | None:
        found = paired(results.series(phase, OURS, metric), results.series(phase, FLOOR, metric), ratio=ratio)
        return found.median if found else None

    first = pair("first", "ms", True)
    row("import + build + first answer ≤ 1.05x floor", first, "{:.2f}x", first is not None and first <= 1.05)
    cpu = pair("turns", "cpu_ms", False)
    row("client CPU per turn ≤ +0.3 ms over floor", cpu, "{:+.2f} ms", cpu is not None and cpu <= 0.3)
    ours_cpu = _median(results, "turns", OURS, "cpu_ms")
    peers = {n: _median(results, "turns", n, "cpu_ms") for n in names if n not in (FLOOR, OURS)}
    peers_known = {n: v for n, v in peers.items() if v is not None}
    if ours_cpu is not None and peers_known:
        lowest = min(peers_known, key=lambda n: peers_known[n])
        rows.append(["client CPU per turn below every peer (the original package included)",
                     f"{ours_cpu:.2f} ms vs {lowest} {peers_known[lowest]:.2f} ms",
                     "yes" if ours_cpu < peers_known[lowest] else "**no**"])
    wall = pair("concurrency", "wall_s", True)
    row("concurrency wall ≤ 1.05x floor", wall, "{:.2f}x", wall is not None and wall <= 1.05)
    rss = pair("concurrency", "rss_mib", False)
    row("peak RSS ≤ floor + 10 MiB", rss, "{:+.1f} MiB", rss is not None and rss <= 10)
    http = pair("http", "median_ms", False)
    row("HTTP route ≤ +0.5 ms per request over the floor app", http, "{:+.2f} ms", http is not None and http <= 0.5)
    loaded_wall = pair("http_concurrency", "wall_s", True)
    row("HTTP under load: wall ≤ 1.10x floor app", loaded_wall, "{:.2f}x",
        loaded_wall is not None and loaded_wall <= 1.10)
    loaded_cpu = pair("http_concurrency", "host_cpu_ms", True)
    row("HTTP under load: host CPU per request ≤ 1.10x floor app", loaded_cpu, "{:.2f}x",
        loaded_cpu is not None and loaded_cpu <= 1.10)
    return rows


def update_readme(readme: Path, table: str) -> None:
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise RuntimeError(f"{readme} has no {README_START} … {README_END} section")
    readme.write_text(text[:start + len(README_START)] + "\n" + table + text[end:], encoding="utf-8")
