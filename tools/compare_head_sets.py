#!/usr/bin/env python3
"""How well one head search's selection agrees with another's (recall and precision).

Reads act-llama head-set files (search-heads -o): the reference (e.g. the exact float32 search;
several files separated by commas are one reference, e.g. searches of disjoint layers) and the
candidate (e.g. a search with a cheaper arithmetic or an early stop). Prints the
selected heads of each, recall (share of the reference's heads the candidate selected), precision
(share of the candidate's heads the reference selected), and, for every head selected by only one
of them, both searches' fixed/broken counts and gains, so a disagreement can be read as a head at
the selection threshold or as a real difference; and, per file, how many selected heads passed by
the smallest net count any selected head has (fixed - broken), a measure of how fragile the
selection is (with the shipped rule, net +2 of 128 prompts is the least that passes), and how
many heads a search of heads without any effect would select by that rule: each head's discordant
prompts (fixed + broken) falling either way with probability 1/2 (a sign test), summed over the
heads measured on every prompt (not given for early-stopped or screened searches).

    tools/compare_head_sets.py REFERENCE.json[,MORE.json] CANDIDATE.json [--restrict-layers 2-28]
"""
import argparse
import json
import math
import sys


def load(paths):
    heads, measured = set(), {}
    for path in paths.split(","):
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            heads |= {(int(h[0]), int(h[1])) for h in doc["heads"]}
            measured.update({(m["layer"], m["head"]): m["values"] for m in doc.get("measurements", [])})
        except (OSError, ValueError) as e:
            sys.exit(f"compare_head_sets: {path}: {e}")
        except (KeyError, TypeError, IndexError) as e:
            sys.exit(f"compare_head_sets: {path}: not an act-head-set file ({type(e).__name__}: {e})")
    return heads, measured


def fragility(name, heads, measured):
    """One line: the selected heads whose net count (fixed - broken) is the smallest among them."""
    nets = {h: measured[h]["fixed"] - measured[h]["broken"] for h in heads
            if h in measured and "fixed" in measured[h] and "broken" in measured[h]}
    if not nets:
        return f"{name}: no selected head has fixed/broken counts"
    least = min(nets.values())
    at = sorted(h for h, n in nets.items() if n == least)
    line = f"{name}: {len(at)} of {len(nets)} selected heads pass by the least net count, {least:+g}"
    chance = chance_selections(measured, least)
    return line + (f"; heads without effect would give {chance:.1f} selections by chance" if chance is not None else "")


def chance_selections(measured, least):
    """Expected selections (net count >= least) if every measured head had no effect, or None when
    some head was not run on every prompt."""
    total = 0.0
    for values in measured.values():
        if "evaluated" in values or "screened_out" in values or "fixed" not in values:
            return None
        n = int(values["fixed"] + values["broken"])
        total += sum(math.comb(n, f) for f in range(n + 1) if 2 * f - n >= least) / 2**n
    return total


def layer_range(text):
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


def describe(values):
    if values is None:
        return "not measured"
    keys = ("fixed", "broken", "accuracy_gain", "accuracy_gain_at_most", "evaluated", "prompts")
    return ", ".join(f"{k} {values[k]:g}" for k in keys if k in values)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reference")
    parser.add_argument("candidate")
    parser.add_argument("--restrict-layers", type=layer_range, help="compare heads of these layers only, e.g. 2-28")
    args = parser.parse_args()
    ref, ref_values = load(args.reference)
    cand, cand_values = load(args.candidate)
    if args.restrict_layers is not None:
        ref = {h for h in ref if h[0] in args.restrict_layers}
        cand = {h for h in cand if h[0] in args.restrict_layers}
    both = ref & cand
    recall = len(both) / len(ref) if ref else 1.0
    precision = len(both) / len(cand) if cand else 1.0
    print(f"reference: {len(ref)} heads; candidate: {len(cand)} heads; in both: {len(both)}")
    print(f"recall {recall:.3f} ({len(both)}/{len(ref)}), precision {precision:.3f} ({len(both)}/{len(cand)})")
    for label, only in (("only in the reference", ref - cand), ("only in the candidate", cand - ref)):
        for head in sorted(only):
            print(f"  {label}: {head[0]}:{head[1]}  reference [{describe(ref_values.get(head))}]"
                  f"  candidate [{describe(cand_values.get(head))}]")
    print(fragility("reference", ref, ref_values))
    print(fragility("candidate", cand, cand_values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
