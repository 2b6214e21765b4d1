"""Progressive pacing in the simulator against the analytic value of pacing.md section 4.

For every scenario file with a constant answer rate, run the progressive
pacer over several seeds and print the mean occupancy next to
talk / (talk + wrap + expected time to reach a live answer), with the
detector's misreads as the scenario has them and switched off, plus the
abandoned calls (which must be zero without misreads).

    python bench/progressive_vs_analytic.py [SCENARIO_DIR] [--seeds 6] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
from pathlib import Path

from campaigns.simulate import run_simulation
from dialer.simulation.analytic import constant_p_human, progressive_occupancy
from dialer.simulation.scenario import load_scenario

DEFAULT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "scenarios"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for path in sorted(args.folder.glob("*.json")):
        scenario = load_scenario(path)
        try:
            constant_p_human(scenario)
        except ValueError:
            continue  # the formula needs one answer rate
        for misread in (scenario.amd_human_as_machine, 0.0):
            variant = dataclasses.replace(scenario, amd_human_as_machine=misread)
            runs = [run_simulation(variant, "progressive", seed) for seed in range(1, args.seeds + 1)]
            occupancy = [r["occupancy"] for r in runs]
            rows.append({
                "scenario": path.stem,
                "amd_human_as_machine": misread,
                "seeds": args.seeds,
                "occupancy_mean": statistics.mean(occupancy),
                "occupancy_sd": statistics.pstdev(occupancy),
                "analytic": progressive_occupancy(variant),
                "gap_points": 100 * (statistics.mean(occupancy) - progressive_occupancy(variant)),
                "abandoned": [r["abandoned"] for r in runs],
                "wall_s_max": max(r["wall_s"] for r in runs),
            })
            if not args.json:
                row = rows[-1]
                print(f"{row['scenario']:<14} misread {misread:<5} occupancy {row['occupancy_mean']:.1%} "
                      f"(sd {row['occupancy_sd']:.1%}) analytic {row['analytic']:.1%} "
                      f"gap {row['gap_points']:+.1f} pts  abandoned {row['abandoned']}  "
                      f"slowest run {row['wall_s_max']:.1f} s", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
