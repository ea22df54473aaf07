#!/usr/bin/env python3
"""Markdown tables from the result files tools/run_eval.sh writes (act-eval-results JSON).

Usage: tools/eval_tables.py RESULTS_DIR
       tools/eval_tables.py --policies RESULTS_DIR   (the files tools/compare_policies.sh writes)

Accuracy is in percent; "+f/-b" counts the dev examples a head set turned right / wrong compared
with the baseline (needs --per-example files), which shows how much of a difference is a few rows,
and "p" is the two-sided exact McNemar test on those counts (the chance of a split at least this
uneven if fixing and breaking were equally likely); "*" marks p < 0.05.
"letter-argmax" is derived from the letter protocol's per-example scores: the best of the letter
tokens instead of the greedy token (no extra model run).
"""
import json
import math
import os
import sys


def letter_argmax(result):
    """The letter result re-scored by the best letter token (needs per-example scores)."""
    runs = []
    for run in result["runs"]:
        examples = [dict(e, predicted=max(range(len(e["scores"])), key=lambda c: e["scores"][c])) for e in run["examples"]]
        right = sum(1 for e in examples if e["predicted"] == e["label"])
        runs.append(dict(run, examples=examples, accuracy=right / len(examples)))
    mean = sum(r["accuracy"] for r in runs) / len(runs)
    return dict(result, protocol="letter-argmax", runs=runs, accuracy=mean)


def load(directory, name):
    """{(task, protocol): result} of one result file; {} when it is missing, exit on a bad one."""
    path = os.path.join(directory, name + ".json")
    if not os.path.exists(path):
        return {}
    try:
        with open(path) as f:
            doc = json.load(f)
        results = {}
        for r in doc["results"]:
            check_result(r)
            results[(r["task"], r["protocol"])] = r
            if r["protocol"] == "letter" and "examples" in r["runs"][0]:
                results[(r["task"], "letter-argmax")] = letter_argmax(r)
        return results
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        sys.exit(f"eval_tables: {path}: not an act-eval-results file ({type(e).__name__}: {e})")


def check_result(r):
    """Raises ValueError unless r has an accuracy in [0, 1], runs, and examples with integer labels."""
    if not 0.0 <= r["accuracy"] <= 1.0 or not r["runs"]:
        raise ValueError(f"{r['task']}/{r['protocol']}: accuracy outside [0, 1] or no runs")
    for run in r["runs"]:
        for e in run.get("examples", []):
            # predicted is null when the letter protocol's greedy token is not a choice letter
            if not isinstance(e["label"], int) or not isinstance(e["predicted"], (int, type(None))):
                raise ValueError(f"{r['task']}/{r['protocol']}: an example without an integer label and prediction")


def accuracy(result):
    return 100.0 * result["accuracy"]


def flips(base, other):
    """(fixed, broken) over the first run's examples, or None without per-example data."""
    a, b = base["runs"][0].get("examples"), other["runs"][0].get("examples")
    if a is None or b is None:
        return None
    if len(a) != len(b):
        sys.exit(f"eval_tables: {base['task']}/{base['protocol']}: {len(a)} examples against {len(b)}; "
                 "were both files evaluated on the same split?")
    right = lambda e: e["predicted"] == e["label"]
    fixed = sum(1 for x, y in zip(a, b) if not right(x) and right(y))
    broken = sum(1 for x, y in zip(a, b) if right(x) and not right(y))
    return fixed, broken


def mcnemar_p(fixed, broken):
    """Two-sided exact McNemar p-value: binomial(fixed + broken, 1/2) tails."""
    n = fixed + broken
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(fixed, broken) + 1)) / 2**n
    return min(1.0, 2 * tail)


def cell(base, other):
    if other is None:
        return "–"
    text = f"{accuracy(other):.1f} ({accuracy(other) - accuracy(base):+.1f}"
    counts = flips(base, other)
    if counts:
        p = mcnemar_p(*counts)
        text += f", +{counts[0]}/-{counts[1]}, p {p:.2g}{'*' if p < 0.05 else ''}"
    return text + ")"


def comparison_table(base, columns):
    """One row per (task, protocol) of the baseline, a cell per column, then the mean change per protocol."""
    print("| task | protocol | rows | baseline | " + " | ".join(c for c, _ in columns) + " |")
    print("|---|---|---|---|" + "---|" * len(columns))
    sums = {}
    for key, b in base.items():
        row = [key[0], key[1], str(b["rows"]), f"{accuracy(b):.1f}"]
        for name, results in columns:
            row.append(cell(b, results.get(key)))
            if key in results:
                sums.setdefault((key[1], name), []).append(accuracy(results[key]) - accuracy(b))
        print("| " + " | ".join(row) + " |")
    print()
    print("Mean change in accuracy (points) per protocol:")
    print()
    print("| protocol | " + " | ".join(c for c, _ in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for protocol in ["label", "letter", "letter-argmax", "loglik", "loglik-norm"]:
        row = [protocol]
        for name, _ in columns:
            deltas = sums.get((protocol, name), [])
            row.append(f"{sum(deltas) / len(deltas):+.2f} ({len(deltas)} tasks)" if deltas else "–")
        print("| " + " | ".join(row) + " |")


def main_table(d):
    base = load(d, "baseline")
    family = {**load(d, "act-classification"), **load(d, "act-multiple-choice")}
    shared = load(d, "act-shared")
    random = {**load(d, "random-classification"), **load(d, "random-multiple-choice")}
    every = load(d, "all-heads")
    comparison_table(base, [("ACT family set", family), ("ACT shared set", shared), ("random heads", random),
                            ("all heads", every)])
    hurt = [f"{k[0]}/{k[1]}" for k, b in base.items() if k in family and accuracy(family[k]) <= accuracy(b)]
    print()
    print("Family set does not help (change <= 0): " + (", ".join(hurt) if hurt else "none"))


def grid_table(d):
    betas, taus = ["0.2", "0.4", "0.6"], ["0.05", "0.1", "0.2"]
    base = load(d, "baseline").get(("sst2", "label"))
    if base is None:
        return
    print()
    print(f"sst2 dev, classification head set, accuracy (baseline {accuracy(base):.1f}):")
    print()
    print("| beta \\ tau | " + " | ".join(taus) + " |")
    print("|---|" + "---|" * len(taus))
    for beta in betas:
        row = [beta]
        for tau in taus:
            r = load(d, f"grid-sst2-b{beta}-t{tau}").get(("sst2", "label"))
            row.append(f"{accuracy(r):.1f}" if r else "–")
        print("| " + " | ".join(row) + " |")


def kshot_table(d):
    base, act = load(d, "kshot-baseline"), load(d, "kshot-act")
    if not base:
        return
    print()
    print("4-shot (seeds 1, 2, 3; mean and per seed):")
    print()
    print("| task | baseline | ACT classification set |")
    print("|---|---|---|")
    for key, b in base.items():
        seeds = lambda r: ", ".join(f"{100 * run['accuracy']:.1f}" for run in r["runs"])
        a = act.get(key)
        print(f"| {key[0]} | {accuracy(b):.1f} ({seeds(b)}) | " + (f"{accuracy(a):.1f} ({seeds(a)})" if a else "–") + " |")


def exact_table(d):
    """The multiple-choice and shared sets, screened (shipped) against searched exactly."""
    base = load(d, "baseline")
    columns = [("MC set, screened", load(d, "act-multiple-choice")), ("MC set, exact", load(d, "act-multiple-choice-exact")),
               ("shared set, screened", load(d, "act-shared")), ("shared set, exact", load(d, "act-shared-exact"))]
    if not base or not (columns[1][1] or columns[3][1]):
        return
    print()
    comparison_table(base, columns)


POLICIES = ["paper", "keep-token0", "scale-only", "top-k-2", "initial-token"]


def policy_tables(d):
    """Per classification task, each policy's set against the baseline, then against the paper's."""
    base = load(d, "baseline")
    if not base:
        sys.exit(f"eval_tables: no baseline.json in {d}")
    runs = [(name, load(d, "policy-" + name)) for name in POLICIES]
    runs = [(name, r) for name, r in runs if r]
    paper = dict(runs).get("paper", {})
    for title, reference in [("baseline", base), ("the paper's ACT", paper)]:
        columns = [(name, r) for name, r in runs if r is not reference]
        print(f"\nAgainst {title}:\n")
        print("| task | rows | " + title + " | " + " | ".join(name for name, _ in columns) + " |")
        print("|---|---|---|" + "---|" * len(columns))
        keys = [k for k in base if k[1] == "label" and k in reference]
        if not keys:
            continue
        for key in keys:
            row = [key[0], str(base[key]["rows"]), f"{accuracy(reference[key]):.1f}"]
            row += [cell(reference[key], r.get(key)) for _, r in columns]
            print("| " + " | ".join(row) + " |")
        deltas = [[accuracy(r[k]) - accuracy(reference[k]) for k in keys if k in r] for _, r in columns]
        print("| mean change | | | " + " | ".join(f"{sum(d) / len(d):+.2f}" if d else "–" for d in deltas) + " |")
    print()
    for name, r in runs:
        moved = lambda sign: [k[0] for k in base if k in r and k[1] == "label" and
                              sign * (accuracy(r[k]) - accuracy(base[k])) > 0]
        print(f"- {name}: helps {', '.join(moved(1)) or 'none'}; hurts {', '.join(moved(-1)) or 'none'}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--policies":
        policy_tables(sys.argv[2])
        sys.exit(0)
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main_table(sys.argv[1])
    grid_table(sys.argv[1])
    kshot_table(sys.argv[1])
    exact_table(sys.argv[1])
