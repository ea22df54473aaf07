#!/usr/bin/env python3
"""Logits of act-llama with a 16-bit KV cache, bf16 attention products, or another GEMM, against float32 with OpenBLAS.

For each prompt, runs `act-llama dump-logits` once per configuration and compares every position's
logits with the f32 run: the largest |difference| and the share of positions whose top-1 token is
the same. Prompts: a few fixed texts plus the first SST-2 dev sentences ($ACT_DATA_DIR/sst2/dev.jsonl).
With --one-at-a-time every run feeds the prompt one token per decode step, so the positions are
decode steps (what --decode-activations changes; the whole-prompt pass is a prefill).

    tools/compare_arithmetic.py BUILD/examples/act-llama [--model FILE] [--prompts N] [--config NAME]
                                [--one-at-a-time]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

CONFIGS = {
    "f16": ["--kv-type", "f16"],
    "bf16": ["--kv-type", "bf16"],
    "bf16+bf16-products": ["--kv-type", "bf16", "--attention-products", "bf16"],
    "f32-matmul": ["--matmul", "f32"],
    "bf16-matmul": ["--matmul", "bf16"],
    # Decode steps only (prompts of 8 tokens or more prefill in float32): pair it with --one-at-a-time.
    "int8-decode-activations": ["--decode-activations", "int8"],
}

FIXED_PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea, there lived an old fisherman who",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return",
    "Question: What is the boiling point of water at sea level in Celsius?\nAnswer:",
]


def prompts(count):
    data = os.environ.get("ACT_DATA_DIR", "/work/shared/data")
    out = list(FIXED_PROMPTS)
    with open(os.path.join(data, "sst2", "dev.jsonl"), encoding="utf-8") as f:
        for line in f:
            if len(out) >= count:
                break
            row = json.loads(line)
            text = row.get("text") or row.get("sentence")
            out.append("Review: " + text + "\nSentiment:")
    return out[:count]


def logits(runner, model, prompt, extra, workdir, threads):
    path = os.path.join(workdir, "logits.bin")
    cmd = [runner, "dump-logits", "-t", str(threads), "-p", prompt, "-o", path] + extra
    if model:
        cmd += ["-m", model]
    subprocess.run(cmd, check=True)
    return np.fromfile(path, dtype=np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runner")
    parser.add_argument("--model", default="")
    parser.add_argument("--prompts", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--vocab", type=int, default=49152, help="logits per position (SmolLM2: 49152)")
    parser.add_argument("--config", action="append", choices=list(CONFIGS), help="only these (repeatable; default all)")
    parser.add_argument("--one-at-a-time", action="store_true", help="compare decode steps (dump-logits --one-at-a-time)")
    args = parser.parse_args()
    mode = ["--one-at-a-time"] if args.one_at_a_time else []
    chosen = {name: CONFIGS[name] for name in (args.config or CONFIGS)}
    totals = {name: {"max_abs": 0.0, "sum_abs": 0.0, "agree": 0, "positions": 0} for name in chosen}
    with tempfile.TemporaryDirectory() as workdir:
        for prompt in prompts(args.prompts):
            base = logits(args.runner, args.model, prompt, mode, workdir, args.threads).reshape(-1, args.vocab)
            for name, extra in chosen.items():
                other = logits(args.runner, args.model, prompt, mode + extra, workdir, args.threads)
                other = other.reshape(-1, args.vocab)
                t = totals[name]
                t["max_abs"] = max(t["max_abs"], float(np.max(np.abs(other - base))))
                t["sum_abs"] += float(np.sum(np.abs(other - base)))
                t["agree"] += int(np.sum(np.argmax(other, axis=1) == np.argmax(base, axis=1)))
                t["positions"] += base.shape[0]
    print("| arithmetic | max abs logit diff vs f32 | mean abs logit diff | top-1 agreement | positions |")
    print("|---|---|---|---|---|")
    for name, t in totals.items():
        share = 100.0 * t["agree"] / t["positions"]
        mean = t["sum_abs"] / (t["positions"] * args.vocab)
        print(f"| {name} | {t['max_abs']:.4g} | {mean:.3g} | {share:.2f}% ({t['agree']}/{t['positions']}) "
              f"| {t['positions']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
