#!/usr/bin/env python3
"""Decode speed of two act-llama builds (e.g. main and a branch) on the same prompts, runs alternating.

  tools/compare_runners.py --baseline /tmp/main-build/examples/act-llama \
      --candidate build/release/examples/act-llama [--threads 1] [--prompt-tokens 4000 256]
      [--repeats 5] [--generate 128] [--act-args "--kv-type f16"] [--candidate-args "..."]

One build with and without ACT: the same binary twice, and
--candidate-args "--act-heads data/heads/smollm2-135m-classification.json".

Prompts and runs come from tools/bench_vs_llamacpp.py (same text, same `generate --timing-json`
child per run; llama-cpp-python counts the prompt's tokens). The two builds alternate, and the
order flips every round, so load from other processes lands on both alike; the figure is each
build's median decode tokens/s, and the ratio candidate / baseline (above 1: the candidate is faster).
"""
import argparse
import statistics
from pathlib import Path

import bench_vs_llamacpp as bench


def compare(runners, text, args):
    """Decode tokens/s of every run of each runner, alternating runners and flipping the order."""
    runs = {name: [] for name in runners}
    order = list(runners)
    extra = {"baseline": args.act_args.split(), "candidate": args.act_args.split() + args.candidate_args.split()}
    for _ in range(args.repeats):
        for name in order:
            result = bench.bench_act(runners[name], args.model, text, args.threads, args.generate, extra[name])
            runs[name].append(result["decode"])
        order.reverse()
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="act-llama binary to compare against")
    parser.add_argument("--candidate", required=True, help="act-llama binary under test")
    parser.add_argument("--model", type=Path, default=bench.DEFAULT_MODEL)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--prompt-tokens", type=int, nargs="+", default=[4000, 256])
    parser.add_argument("--act-args", default="", help="extra act-llama generate arguments, one string")
    parser.add_argument("--candidate-args", default="", help="further arguments for the candidate only")
    parser.add_argument("--generate", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    bench.require_model_and_peer(args.model)

    runners = {"baseline": args.baseline, "candidate": args.candidate}
    print(f"{args.threads} thread(s); {args.generate} generated tokens; {args.repeats} runs each, alternating; "
          f"act-llama arguments: {args.act_args or '(none)'}; "
          f"candidate only: {args.candidate_args or '(none)'}.\n")
    print("| prompt tokens | baseline decode (median, runs) | candidate decode (median, runs) | candidate / baseline |")
    print("|---|---|---|---|")
    for length in args.prompt_tokens:
        runs = compare(runners, bench.prompt_text(args.model, length), args)
        medians = {name: statistics.median(values) for name, values in runs.items()}
        cells = [f"{medians[name]:.1f} tok/s ({', '.join(f'{v:.1f}' for v in values)})" for name, values in runs.items()]
        print(f"| {length} | {cells[0]} | {cells[1]} | {medians['candidate'] / medians['baseline']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
