"""The pacing benchmark: every pacer on every scenario, over several seeds, in one table each.

    python bench/pacing.py [--scenarios DIR_OR_FILES ...] [--pacers progressive,ratio:1.8,vicidial-hard,...]
                           [--seeds 5] [--hours H] [--best-ratio [--ratio-grid]] [--jobs N]
                           [--out DIR] [--markdown | --json]

Each (scenario, pacer, seed) is one ``campaigns.simulate.run_simulation``: the
real engine, hopper, gate and database against the simulated carrier, so the
figures are those of ``dialer simulate`` and a row can be re-run on its own.
Seeds are 1..N and every pacer meets the same people on the same seed.

For each scenario it prints: occupancy (talk / logged-in non-paused time),
its mean with a 95 % interval (Student's t over seeds), abandonment (FTC: not
connected within 2 s / people answered) mean and max over seeds, the worst
hour (max over seeds), the agents' wait p90 before a connect, dials per
agent-hour, calls placed with no agent working (summed), and whether the
pacer meets the bar of issue 3 (abandonment at or under the target in every
seed and the worst hour under 6 %).

``--best-ratio`` adds ``ratio*``: the fixed ratio (1.0 to 3.0, step 0.1)
that, in hindsight, gives the highest occupancy while meeting the bar on the
same seeds. By default it bisects for the highest ratio that meets the bar
(occupancy rises and abandonment rises with the ratio), about 7 evaluations
instead of 21; ``--ratio-grid`` tries all 21.

``--hours H`` shortens every scenario's day for quick runs; the time-of-day
keys (answer-rate and CPS steps, logins and logouts, lunch, abrupt logouts)
are scaled to the shorter day so it keeps its shape. ``vicidial-tapered``
without an ``end=`` is given the end of the scenario's working day (its
``adaptive_latest_server_time``). A pacer that does not exist (yet) is
skipped with a warning. The chart (occupancy against abandonment, one panel
per scenario), the JSON and the Markdown tables are written to ``--out``;
matplotlib comes with the ``bench`` extra (``pip install -e .[bench]``).

Every finished run is kept in ``OUT/runs`` (``--cache DIR`` elsewhere), keyed by
the scenario, the pacer, the seed and a hash of the code the run depends on;
a benchmark that is stopped resumes where it was, and one that adds pacers
only simulates what is new.  Changing the predictive pacer re-runs only its
rows; changing the engine or the simulator re-runs everything.  ``--no-cache``
simulates afresh.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib
import json
import math
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from campaigns.simulate import SIM_ZONE, DayPlan, run_simulation
from dialer.pacing import PacerError
from dialer.simulation.analytic import oracle_occupancy
from dialer.simulation.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

DEFAULT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "scenarios"
DEFAULT_PACERS = "progressive,vicidial-hard,vicidial-tapered,impact,predictive,oracle"
RATIOS = tuple(round(1.0 + 0.1 * i, 1) for i in range(21))
WORST_HOUR_BAR = 0.06
KEPT = (
    "occupancy",
    "utilisation",
    "abandonment_rate",
    "worst_hour_abandonment_rate",
    "human_answers",
    "abandoned",
    "connects",
    "dials",
    "agent_wait_p90_s",
    "dials_per_agent_hour",
    "connects_per_agent_hour",
    "dials_without_agents",
    "oracle_occupancy",
    "wall_s",
)

# Student's t, two-sided 95 % (0.975 quantile), for 1..30 degrees of freedom.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t: a table to 30, then the Cornish-Fisher expansion (error < 1e-4)."""
    if df < 1:
        return math.nan
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


# ---------------------------------------------------------------------------------------- scenarios


def scenario_paths(items: Sequence[str]) -> list[Path]:
    """Files as given and every ``*.json`` of each folder (comma-separated lists allowed)."""
    paths: list[Path] = []
    for item in items:
        for part in item.split(","):
            if not part.strip():
                continue
            path = Path(part.strip())
            if path.is_dir():
                paths.extend(sorted(path.glob("*.json")))
            elif path.is_file():
                paths.append(path)
            else:
                raise SystemExit(f"no such scenario file or folder: {path}")
    return paths


def shorten(scenario: Scenario, hours: float) -> Scenario:
    """The same world in a day of ``hours``: hour-indexed keys are scaled so the day keeps its shape."""
    if hours == scenario.hours:
        return scenario
    k = hours / scenario.hours
    data = scenario.to_dict()

    def at(value: Any) -> Any:
        return [v * k for v in value] if isinstance(value, list) else None if value is None else value * k

    for key in ("cps", "p_human"):
        if isinstance(data[key], list):
            data[key] = [[hour * k, value] for hour, value in data[key]]
    for group in data["agents"]:
        group["login_h"] = at(group["login_h"])
        group["logout_h"] = at(group["logout_h"])
    if data["lunch"] is not None:
        data["lunch"]["at_h"] *= k
    data["abrupt_logouts_h"] = [hour * k for hour in data["abrupt_logouts_h"]]
    data["hours"] = hours
    return parse_scenario(data)


def day_end_hhmm(scenario: Scenario) -> str:
    """The clock time the simulated working day ends (VICIdial's ``adaptive_latest_server_time``)."""
    plan = DayPlan.for_scenario(scenario)
    start = datetime.fromtimestamp(plan.first_start, SIM_ZONE)
    end = start + timedelta(seconds=min(plan.length_s, 86400.0))
    if end.date() != start.date():
        return "2400"
    return f"{end.hour:02d}{end.minute:02d}"


def effective_spec(spec: str, scenario: Scenario) -> str:
    """The spec to run: ``vicidial-tapered`` learns the end of this scenario's day unless told."""
    name, _, arg = spec.partition(":")
    if name == "vicidial-tapered" and "end=" not in arg:
        if arg and "=" not in arg:
            arg = f"max={arg}"  # a bare number is the maximum level
        return f"{name}:{','.join(part for part in (arg, f'end={day_end_hhmm(scenario)}') if part)}"
    return spec


# ---------------------------------------------------------------------------------------- running


def safety_net_for(spec: str) -> bool:
    """Our pacer runs as shipped, with the engine's hold past the abandonment target.

    Every other pacer (progressive, fixed ratios, the VICIdial and Impact clones,
    the oracle) runs without it, so it is measured as the dialer it imitates.
    """
    return spec.split(":", 1)[0] == "predictive"


def run_one(scenario: Scenario, spec: str, seed: int, cache: Path | None = None) -> dict[str, Any]:
    """One simulation, reduced to the figures the tables need; an unknown pacer is reported, not raised.

    With ``cache``, a run already made by the same code on the same scenario, pacer
    and seed is read back instead of simulated again, so a long benchmark that is
    stopped (or extended with more pacers) resumes where it was.
    """
    path = cache / run_key(scenario, spec, seed) if cache is not None else None
    if path is not None and path.exists():
        cached: dict[str, Any] = json.loads(path.read_text())
        return cached
    try:
        figures = run_simulation(scenario, spec, seed, hold_over_budget=safety_net_for(spec))
    except PacerError as exc:
        return {"error": str(exc)}
    result = {key: figures.get(key) for key in KEPT} | {"seed": seed}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(result, default=str))
        partial.replace(path)
    return result


_PACER_MODULES = {"vicidial": "vicidial", "impact": "impact", "predictive": "predictive"}


def code_fingerprint(spec: str) -> str:
    """A hash of the code a run of ``spec`` depends on: the modules of this project that the
    simulator has loaded (engine, simulated carrier, gate, stores, migrations), and of the
    pacer modules only the one ``spec`` uses, so that changing the predictive pacer keeps
    the baselines' cached runs and changing the web app keeps them all."""
    own = next((module for prefix, module in _PACER_MODULES.items() if spec.startswith(prefix)), "basic")
    return _fingerprint(own)


@functools.cache
def _fingerprint(own_pacer: str) -> str:
    import migrations  # noqa: F401  # the schema the simulator's database is built with

    importlib.import_module(f"dialer.pacing.{own_pacer}")
    root = Path(__file__).resolve().parents[1]
    files: set[Path] = set()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file or name.split(".")[0] not in ("dialer", "compliance", "campaigns", "migrations"):
            continue
        if name.startswith("dialer.pacing.") and name != f"dialer.pacing.{own_pacer}":
            continue
        files.add(Path(file).resolve())
    files.update((root / "migrations" / "versions").glob("*.py"))
    files.update((root / "compliance" / "rules").glob("*.json"))
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def run_key(scenario: Scenario, spec: str, seed: int) -> str:
    world = hashlib.sha256(json.dumps(scenario.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:12]
    safe_spec = spec.replace(":", "_").replace("/", "_").replace("=", "_")
    return f"{scenario.name}-{world}-{safe_spec}-s{seed}-{code_fingerprint(spec)}.json"


@dataclass(frozen=True)
class Job:
    scenario: int  # index into the scenario list
    spec: str
    seed: int


class Runner:
    """Runs batches of jobs, in worker processes when ``jobs > 1``."""

    def __init__(self, scenarios: list[Scenario], jobs: int, verbose: bool, cache: Path | None = None) -> None:
        self.scenarios = scenarios
        self.cache = cache
        self.jobs = jobs
        self.verbose = verbose
        self.executor: Executor | None = ProcessPoolExecutor(max_workers=jobs) if jobs > 1 else None
        self.done = 0

    def run(self, jobs: list[Job]) -> list[dict[str, Any]]:
        started = time.perf_counter()
        if self.executor is None:
            results = []
            for job in jobs:
                results.append(run_one(self.scenarios[job.scenario], job.spec, job.seed, self.cache))
                self._ran(job, results[-1])
        else:
            futures: list[Future[dict[str, Any]]] = [
                self.executor.submit(run_one, self.scenarios[job.scenario], job.spec, job.seed, self.cache)
                for job in jobs
            ]
            results = []
            for job, future in zip(jobs, futures, strict=True):
                results.append(future.result())
                self._ran(job, results[-1])
        if jobs:
            log(f"{len(jobs)} runs in {time.perf_counter() - started:.0f} s")
        return results

    def _ran(self, job: Job, result: dict[str, Any]) -> None:
        self.done += 1
        if not self.verbose and self.done % 10 == 0:
            log(f"{self.done} runs done")
        if self.verbose and "error" not in result:
            log(
                f"  {self.scenarios[job.scenario].name} {job.spec} seed {job.seed}: "
                f"occupancy {result['occupancy']:.1%} abandonment {result['abandonment_rate']:.2%} "
                f"({result['wall_s']:.1f} s)"
            )

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown()


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------- figures


@dataclass
class Row:
    """One pacer on one scenario over the seeds."""

    label: str
    spec: str
    runs: list[dict[str, Any]]
    target: float
    ratio: float | None = None  # for ratio*: the ratio chosen
    summary: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.summary = summarize(self.runs, self.target)

    @property
    def meets_bar(self) -> bool:
        return bool(self.summary["meets_bar"])


def summarize(runs: list[dict[str, Any]], target: float) -> dict[str, Any]:
    occupancy = [r["occupancy"] for r in runs]
    abandonment = [r["abandonment_rate"] for r in runs]
    worst_hour = [r["worst_hour_abandonment_rate"] for r in runs]
    n = len(runs)
    mean = statistics.fmean(occupancy)
    half = t975(n - 1) * statistics.stdev(occupancy) / math.sqrt(n) if n > 1 else math.nan
    return {
        "seeds": n,
        "occupancy_mean": mean,
        "occupancy_ci95": [mean - half, mean + half] if n > 1 else None,
        "occupancy_ci95_half": half if n > 1 else None,
        "abandonment_mean": statistics.fmean(abandonment),
        "abandonment_max": max(abandonment),
        "worst_hour_max": max(worst_hour),
        "agent_wait_p90_s": statistics.fmean(r["agent_wait_p90_s"] for r in runs),
        "dials_per_agent_hour": statistics.fmean(r["dials_per_agent_hour"] for r in runs),
        "dials_without_agents": sum(r["dials_without_agents"] for r in runs),
        "oracle_occupancy": runs[0].get("oracle_occupancy"),
        "meets_bar": meets_bar(runs, target),
    }


def meets_bar(runs: Iterable[dict[str, Any]], target: float) -> bool:
    """Issue 3's bar: abandonment at or under the target in every seed, worst hour under 6 %."""
    return all(
        r["abandonment_rate"] <= target + 1e-12 and r["worst_hour_abandonment_rate"] < WORST_HOUR_BAR for r in runs
    )


# ---------------------------------------------------------------------------------------- best ratio


@dataclass
class RatioSearch:
    """Finds, for one scenario, the fixed ratio with the best occupancy among those that meet the bar."""

    scenario: int
    target: float
    grid: bool
    tried: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # index into RATIOS -> runs
    lo: int | None = None  # highest index known to meet the bar
    hi: int | None = None  # lowest index known to miss it
    finished: bool = False

    def feasible(self, index: int) -> bool:
        return meets_bar(self.tried[index], self.target)

    def wanted(self) -> list[int]:
        """The ratio indexes to evaluate next (empty once finished)."""
        if self.finished:
            return []
        if self.grid:
            missing = [i for i in range(len(RATIOS)) if i not in self.tried]
            if not missing:
                self.finished = True
            return missing
        top = len(RATIOS) - 1
        if 0 not in self.tried or top not in self.tried:
            return [i for i in (0, top) if i not in self.tried]
        if self.lo is None and self.hi is None:
            if self.feasible(top):
                self.lo = top
            elif not self.feasible(0):
                self.hi = 0
            else:
                self.lo, self.hi = 0, top
        if self.lo is None or self.hi is None or self.hi - self.lo <= 1:
            self.finished = True
            return []
        mid = (self.lo + self.hi) // 2
        if mid in self.tried:
            if self.feasible(mid):
                self.lo = mid
            else:
                self.hi = mid
            return self.wanted()
        return [mid]

    def best(self) -> int | None:
        feasible = [i for i in self.tried if self.feasible(i)]
        if not feasible:
            return None
        return max(feasible, key=lambda i: (statistics.fmean(r["occupancy"] for r in self.tried[i]), -i))


def best_ratios(
    runner: Runner, targets: list[float], seeds: list[int], grid: bool
) -> dict[int, tuple[float, list[dict[str, Any]]] | None]:
    """Run the searches of every scenario side by side, one batch per step."""
    searches = [RatioSearch(i, target, grid) for i, target in enumerate(targets)]
    while True:
        batch = [(search, index) for search in searches for index in search.wanted()]
        if not batch:
            break
        jobs = [Job(s.scenario, f"ratio:{RATIOS[i]:g}", seed) for s, i in batch for seed in seeds]
        log(f"ratio search: {', '.join(f'ratio:{RATIOS[i]:g}' for _, i in batch)}")
        results = runner.run(jobs)
        for k, (search, index) in enumerate(batch):
            search.tried[index] = results[k * len(seeds) : (k + 1) * len(seeds)]
    out: dict[int, tuple[float, list[dict[str, Any]]] | None] = {}
    for search in searches:
        best = search.best()
        out[search.scenario] = None if best is None else (RATIOS[best], search.tried[best])
    return out


# ---------------------------------------------------------------------------------------- output


def pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.{digits}f}%"


COLUMNS = (
    "pacer",
    "occupancy (95% CI)",
    "aband. mean",
    "aband. max",
    "worst hour",
    "wait p90",
    "dials/agent-h",
    "no-agent calls",
    "meets bar",
)


def table_cells(row: Row) -> list[str]:
    s = row.summary
    ci = s["occupancy_ci95"]
    occupancy = pct(s["occupancy_mean"]) + (f" ({pct(ci[0])}..{pct(ci[1])})" if ci else "")
    label = f"{row.label} ({row.ratio:g})" if row.ratio is not None else row.label
    return [
        label,
        occupancy,
        pct(s["abandonment_mean"], 2),
        pct(s["abandonment_max"], 2),
        pct(s["worst_hour_max"], 2),
        f"{s['agent_wait_p90_s']:.0f} s",
        f"{s['dials_per_agent_hour']:.0f}",
        str(s["dials_without_agents"]),
        "yes" if s["meets_bar"] else "no",
    ]


def heading(scenario: Scenario, seeds: int) -> str:
    try:
        oracle: float | None = oracle_occupancy(scenario)
    except ValueError:
        oracle = None
    parts = [
        f"{scenario.name or 'scenario'}" + (f": {scenario.title}" if scenario.title else ""),
        f"{scenario.total_agents} agents, {scenario.hours:g} h x {scenario.days} day(s), {seeds} seeds",
        f"target {pct(min(0.03, scenario.target_abandon))}",
    ]
    if oracle is not None:
        parts.append(f"talk/(talk+wrap) ceiling {pct(oracle)}")
    return "; ".join(parts)


def text_table(rows: list[Row]) -> str:
    cells = [list(COLUMNS)] + [table_cells(row) for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = []
    for n, line in enumerate(cells):
        lines.append(
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 1)) + "|"]
    lines += ["| " + " | ".join(table_cells(row)) + " |" for row in rows]
    return "\n".join(lines)


def chart(results: list[tuple[Scenario, list[Row]]], path: Path) -> bool:
    """Occupancy against abandonment, one panel per scenario, one point per pacer; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed (pip install -e .[bench]): no chart")
        return False
    n = len(results)
    cols = min(3, n)
    rows_n = math.ceil(n / cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(5.2 * cols, 4.2 * rows_n + 0.8), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    colours: dict[str, str] = {}  # one colour per pacer in every panel
    handles: dict[str, Any] = {}
    for ax, (scenario, rows) in zip(axes.flat, results, strict=False):
        target = min(0.03, scenario.target_abandon)
        handles["abandonment target"] = ax.axvline(100 * target, color="crimson", linestyle="--", linewidth=1)
        for row in rows:
            s = row.summary
            x, y = 100 * s["abandonment_mean"], 100 * s["occupancy_mean"]
            xerr = [[x - 100 * min(r["abandonment_rate"] for r in row.runs)], [100 * s["abandonment_max"] - x]]
            yerr = s["occupancy_ci95_half"]
            colour = colours.setdefault(row.label, f"C{len(colours) % 10}")
            handles[row.label] = ax.errorbar(
                x,
                y,
                xerr=xerr,
                yerr=None if yerr is None else 100 * yerr,
                fmt="o" if row.meets_bar else "x",
                color=colour,
                capsize=3,
            )
            label = f"{row.label} ({row.ratio:g})" if row.ratio is not None else row.label
            ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=7, color=colour)
        if rows and rows[0].summary.get("oracle_occupancy"):
            handles["talk/(talk+wrap)"] = ax.axhline(
                100 * rows[0].summary["oracle_occupancy"], color="grey", linestyle=":", linewidth=1
            )
        ax.set_title(f"{scenario.name} ({scenario.total_agents} agents)", fontsize=10)
        ax.set_xlabel("abandonment, % (mean; bars: min..max over seeds)")
        ax.set_ylabel("occupancy, % (mean; bars: 95% CI)")
        ax.grid(alpha=0.3)
    fig.suptitle("Pacers: occupancy against abandonment (o meets the bar, x does not)")
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(8, len(handles)), fontsize=8)
    fig.tight_layout(rect=(0, 0.7 / (4.2 * rows_n + 0.8), 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


# ---------------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--scenarios",
        nargs="+",
        default=[str(DEFAULT_DIR)],
        metavar="DIR_OR_FILE",
        help="scenario files and/or folders of *.json (default: shared/scenarios)",
    )
    parser.add_argument(
        "--pacers", default=DEFAULT_PACERS, help=f"comma-separated pacer specs (default {DEFAULT_PACERS})"
    )
    parser.add_argument("--seeds", type=int, default=5, help="seeds 1..N per scenario and pacer (default 5)")
    parser.add_argument("--hours", type=float, default=None, help="shorten every scenario's day to H hours")
    parser.add_argument("--best-ratio", action="store_true", help="add ratio*: the best fixed ratio in hindsight")
    parser.add_argument("--ratio-grid", action="store_true", help="with --best-ratio: try all 21 ratios, no bisection")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: all CPUs)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "open-dialer-bench",
        help="folder for pacing.png, pacing.json and pacing.md",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="folder of finished runs to reuse (default: OUT/runs); runs of changed code are made again",
    )
    parser.add_argument("--no-cache", action="store_true", help="simulate every run afresh")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--markdown", action="store_true", help="print Markdown tables")
    output.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per run on stderr")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.jobs < 1:
        parser.error("--seeds and --jobs must be at least 1")
    if args.hours is not None and not args.hours > 0:
        parser.error("--hours must be positive")
    return args


def main(argv: Sequence[str] | None = None, *, out: Callable[[str], None] = print) -> dict[str, Any]:
    args = parse_args(argv)
    command = "python bench/pacing.py " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    scenarios: list[Scenario] = []
    paths = scenario_paths(args.scenarios)
    for path in paths:
        try:
            scenario = load_scenario(path)
            if scenario.name is None:
                scenario = parse_scenario(scenario.to_dict() | {"name": path.stem})
            scenarios.append(shorten(scenario, args.hours) if args.hours else scenario)
        except ScenarioError as exc:
            raise SystemExit(f"{path}: {exc}") from exc
    if not scenarios:
        raise SystemExit("no scenarios")
    labels = [spec.strip() for spec in args.pacers.split(",") if spec.strip()]
    seeds = list(range(1, args.seeds + 1))
    targets = [min(0.03, s.target_abandon) for s in scenarios]

    cache = None if args.no_cache else (args.cache or args.out / "runs")
    runner = Runner(scenarios, args.jobs, args.verbose, cache)
    try:
        jobs = [
            Job(i, effective_spec(label, s), seed)
            for i, s in enumerate(scenarios)
            for label in labels
            for seed in seeds
        ]
        log(f"{len(scenarios)} scenarios x {len(labels)} pacers x {len(seeds)} seeds on {args.jobs} process(es)")
        results = runner.run(jobs)
        by_key: dict[tuple[int, str], list[dict[str, Any]]] = {}
        unknown: dict[str, str] = {}
        k = 0
        for i in range(len(scenarios)):
            for label in labels:
                runs = results[k : k + len(seeds)]
                k += len(seeds)
                errors = [r["error"] for r in runs if "error" in r]
                if errors:
                    unknown.setdefault(label, errors[0])
                    continue
                by_key[(i, label)] = runs
        for label, error in unknown.items():
            log(f"warning: skipping pacer {label!r}: {error}")
        ratios = best_ratios(runner, targets, seeds, args.ratio_grid) if args.best_ratio else {}
    finally:
        runner.close()

    tables: list[tuple[Scenario, list[Row]]] = []
    for i, scenario in enumerate(scenarios):
        rows = [
            Row(label, effective_spec(label, scenario), by_key[(i, label)], targets[i])
            for label in labels
            if (i, label) in by_key
        ]
        found = ratios.get(i)
        if found is not None:
            rows.append(Row("ratio*", f"ratio:{found[0]:g}", found[1], targets[i], ratio=found[0]))
        elif args.best_ratio:
            log(f"{scenario.name}: no fixed ratio from 1.0 to 3.0 meets the bar")
        tables.append((scenario, rows))

    report = {
        "command": command,
        "seeds": seeds,
        "hours_override": args.hours,
        "skipped_pacers": unknown,
        "scenarios": [
            {
                "name": scenario.name,
                "scenario": scenario.to_dict(),
                "target_abandon": targets[i],
                "rows": [
                    {"label": r.label, "spec": r.spec, "ratio": r.ratio, **r.summary, "runs": r.runs} for r in rows
                ],
            }
            for i, (scenario, rows) in enumerate(tables)
        ],
    }
    markdown = [f"Command: `{command}`", ""]
    for scenario, rows in tables:
        markdown += [f"### {heading(scenario, len(seeds))}", "", markdown_table(rows), ""]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pacing.json").write_text(json.dumps(report, indent=2, default=str))
    (args.out / "pacing.md").write_text("\n".join(markdown))
    if chart(tables, args.out / "pacing.png"):
        log(f"chart: {args.out / 'pacing.png'}")
    log(f"tables and figures: {args.out / 'pacing.md'}, {args.out / 'pacing.json'}")

    if args.json:
        out(json.dumps(report, indent=2, default=str))
    elif args.markdown:
        out("\n".join(markdown))
    else:
        for scenario, rows in tables:
            out(f"== {heading(scenario, len(seeds))}")
            out(text_table(rows))
            out("")
    return report


if __name__ == "__main__":
    main()
