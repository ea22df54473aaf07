#!/usr/bin/env python3
"""Two builds of one Google Benchmark binary, alternated run by run, and their ratios.

On a shared 2-core machine the load drifts within minutes, so a figure from one binary and a figure
from another run minutes later do not compare. This runs A, then B, then A again, ... for --rounds
rounds, each run with random interleaving of its own benchmarks, and prints per round the median of
every benchmark for both binaries and, for each pair of rows the --pair option names (for example
plain and ACT), their ratio within one run. Usage:

  tools/bench_ab.py --baseline OLD_BINARY --candidate NEW_BINARY --filter 'decode_.*threads:1' \
      --pair decode_plain decode_act --rounds 3 [--threads 1] [-- extra benchmark flags]

The JSON of every run is kept in --out (default build/bench-ab), each file written atomically.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="the binary measured first in each round")
    parser.add_argument("--candidate", required=True, help="the binary measured second in each round")
    parser.add_argument("--filter", required=True, help="--benchmark_filter for both")
    parser.add_argument("--pair", nargs=2, metavar=("DENOMINATOR", "NUMERATOR"),
                        help="name prefixes of two rows whose ratio (numerator / denominator) is printed")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repetitions", type=int, default=6)
    parser.add_argument("--min-time", default="0.2")
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS for the runs")
    parser.add_argument("--out", default="build/bench-ab")
    parser.add_argument("extra", nargs="*", help="further flags for the benchmark binaries (after --)")
    args = parser.parse_args()
    if args.rounds < 1 or args.repetitions < 1:
        parser.error("--rounds and --repetitions must be at least 1")
    for binary in (args.baseline, args.candidate):
        if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
            parser.error(f"not an executable regular file: {binary}")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        parser.error(f"--out exists and is not a directory: {args.out}")
    return args


def write_atomically(path, text):
    """The run's JSON as a complete file or none (a full disk leaves the earlier file, if any)."""
    partial = path.with_name(path.name + ".part")
    try:
        partial.write_text(text)
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        sys.exit(f"bench_ab: cannot write {path}: {error}")


def run_once(binary, args, path):
    env = dict(os.environ)
    if args.threads is not None:
        env["OMP_NUM_THREADS"] = str(args.threads)
    command = [binary, f"--benchmark_filter={args.filter}", f"--benchmark_min_time={args.min_time}",
               f"--benchmark_repetitions={args.repetitions}", "--benchmark_enable_random_interleaving=true",
               "--benchmark_report_aggregates_only=true", "--benchmark_format=json", *args.extra]
    result = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit(f"bench_ab: {binary} failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    write_atomically(path, result.stdout)
    try:
        rows = json.loads(result.stdout)["benchmarks"]
    except (json.JSONDecodeError, KeyError, TypeError):
        sys.exit(f"bench_ab: {binary} wrote no benchmark JSON (does the filter {args.filter!r} match?): "
                 f"{result.stderr.strip()[-300:]}")
    medians = {}
    for row in rows:
        if row.get("aggregate_name") == "median":
            medians[row["run_name"]] = (row["real_time"], row.get("time_unit", "ns"))
    if not medians:
        sys.exit(f"bench_ab: the filter {args.filter!r} selected no benchmark of {binary}")
    return medians


def ratios(medians, pair):
    """numerator / denominator for every row of the pair's denominator with a matching numerator row."""
    denominator, numerator = pair
    found = {}
    for name, (time, _) in medians.items():
        if name.startswith(denominator):
            other = numerator + name[len(denominator):]
            if other in medians and time > 0:  # a zero or NaN time gives no ratio
                found[name[len(denominator):]] = medians[other][0] / time
    return found


def main():
    args = parse_args()
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        sys.exit(f"bench_ab: cannot create {out}: {error}")
    collected = {"baseline": [], "candidate": []}
    for round_index in range(1, args.rounds + 1):
        for role in ("baseline", "candidate"):
            binary = getattr(args, role)
            medians = run_once(binary, args, out / f"{role}_{round_index}.json")
            collected[role].append(medians)
            print(f"round {round_index} {role}:")
            for name, (time, unit) in sorted(medians.items()):
                print(f"  {name}: {time:.4g} {unit}")
            if args.pair:
                for suffix, ratio in sorted(ratios(medians, args.pair).items()):
                    print(f"  {args.pair[1]} / {args.pair[0]} {suffix}: {ratio:.3f}")
    print("ranges over the rounds (min-max of the medians):")
    for role, runs in collected.items():
        for name in sorted(runs[0]):
            times = [run[name][0] for run in runs if name in run]
            print(f"  {role} {name}: {min(times):.4g}-{max(times):.4g} {runs[0][name][1]}")
        if args.pair:
            per_suffix = {}
            for run in runs:
                for suffix, ratio in ratios(run, args.pair).items():
                    per_suffix.setdefault(suffix, []).append(ratio)
            for suffix, values in sorted(per_suffix.items()):
                print(f"  {role} {args.pair[1]} / {args.pair[0]} {suffix}: {min(values):.3f}-{max(values):.3f}"
                      f" (median {statistics.median(values):.3f})")


if __name__ == "__main__":
    main()
