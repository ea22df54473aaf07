#!/usr/bin/env python3
"""Prefill and decode speed, and peak memory, of act-llama against llama.cpp on the same GGUF.

  tools/bench_vs_llamacpp.py --runner build/release/examples/act-llama [--threads 2 1]
      [--prompt-tokens 256 4000] [--repeats 3] [--act-args "--kv-type f16"]

Both run in fresh child processes with the same thread count, prompt (256 and 4,000 tokens by
default: decode speed depends on the context it attends over) and number of generated tokens (64,
greedy, end-of-sequence ignored): act-llama through `generate --timing-json`, llama.cpp through
llama-cpp-python (this script re-runs itself as the child; its context is sized to the prompt plus
the generated tokens, with its default f16 KV cache). Each
figure is the best of --repeats runs, since other load on the machine only ever slows a run down.
Peak RSS is each child's own (os.wait4); the llama.cpp child's includes the Python interpreter.
Prints a markdown table with act / llama.cpp ratios (above 1: act is faster).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CACHE = Path(os.environ.get("ACT_CACHE_DIR", Path.home() / ".cache" / "act"))
DEFAULT_MODEL = Path(os.environ.get("ACT_MODEL", CACHE / "SmolLM2-135M-Instruct.Q4_1.gguf"))
PARAGRAPH = (
    "The history of the river town is long and full of small events that nobody wrote down. "
    "Farmers brought grain to the mill, children swam near the old bridge, and every spring the "
    "water rose and fell again. Traders came by boat with salt, cloth and news from the coast. "
)


def run_measured(command):
    """Runs a command; returns (stdout, peak RSS in MiB) of that child alone."""
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
        stderr = child.stderr.read().decode(errors="replace")
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"failed: {' '.join(map(str, command))}\n{stderr}")
        out.seek(0)
        return out.read().decode(errors="replace"), usage.ru_maxrss / 1024.0


def require_model_and_peer(model):
    """Exits with one line unless the model and llama-cpp-python (which counts the prompts) are there."""
    if not model.exists():
        sys.exit(f"model not found: {model} (run tools/fetch_model.sh)")
    try:
        import llama_cpp  # noqa: F401  (the peer under test; not a dependency of the project)
    except ImportError:
        sys.exit("llama-cpp-python is not installed: pip install llama-cpp-python==0.3.36")


def prompt_text(model, tokens):
    """About `tokens` tokens of plain text (counted with llama.cpp's tokenizer)."""
    import llama_cpp

    llm = llama_cpp.Llama(str(model), vocab_only=True, verbose=False)
    text = PARAGRAPH
    while len(llm.tokenize(text.encode(), add_bos=False)) < tokens:
        text += PARAGRAPH
    ids = llm.tokenize(text.encode(), add_bos=False)[:tokens]
    return llm.detokenize(ids).decode(errors="ignore")


def bench_act(runner, model, text, threads, generate, extra_args):
    with tempfile.TemporaryDirectory() as tmp:
        timing_file = Path(tmp) / "timing.json"
        prompt_file = Path(tmp) / "prompt.txt"
        prompt_file.write_text(text)
        _, rss = run_measured([runner, "generate", "-m", str(model), "-t", str(threads), "--prompt-file",
                               str(prompt_file), "-n", str(generate), "--ignore-eos", "--timing-json",
                               str(timing_file), *extra_args])
        timing = json.loads(timing_file.read_text())
    return {"prefill": timing["prefill_tokens_per_second"], "decode": timing["decode_tokens_per_second"],
            "prompt_tokens": timing["prompt_tokens"], "rss": rss}


def llama_child(model, threads, generate, text_file):
    """Runs inside the child process: times llama.cpp and prints the figures as JSON."""
    import llama_cpp
    import numpy as np

    text = Path(text_file).read_text()
    vocab = llama_cpp.Llama(str(model), vocab_only=True, verbose=False)
    tokens = vocab.tokenize(text.encode(), add_bos=True)
    context = (len(tokens) + generate + 255) // 256 * 256
    llm = llama_cpp.Llama(str(model), n_ctx=context, n_batch=512, n_threads=threads, n_threads_batch=threads,
                          verbose=False)
    start = time.perf_counter()
    llm.eval(tokens)
    prefill = time.perf_counter() - start
    # As act-llama: the first new token comes from the prefill logits; each later one costs a decode.
    # (Llama.scores only holds logits with logits_all, which would compute them for every prompt
    # token; the context's last row is read instead.)
    def next_token():
        return int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))))

    token = next_token()
    start = time.perf_counter()
    for _ in range(generate - 1):
        llm.eval([token])
        token = next_token()
    decode = time.perf_counter() - start
    print(json.dumps({"prefill": len(tokens) / prefill, "decode": (generate - 1) / decode,
                      "prompt_tokens": len(tokens)}))


def bench_llama(model, text, threads, generate):
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as text_file:
        text_file.write(text)
        text_file.flush()
        out, rss = run_measured([sys.executable, __file__, "--llama-child", text_file.name, "--model", str(model),
                                 "--threads", str(threads), "--generate", str(generate)])
    result = json.loads(out.strip().splitlines()[-1])
    result["rss"] = rss
    return result


def best_of(runs):
    return {"prefill": max(r["prefill"] for r in runs), "decode": max(r["decode"] for r in runs),
            "prompt_tokens": runs[0]["prompt_tokens"], "rss": max(r["rss"] for r in runs)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runner", default="build/examples/act-llama", help="act-llama binary")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--prompt-tokens", type=int, nargs="+", default=[256, 4000])
    parser.add_argument("--act-args", default="", help="extra act-llama generate arguments, one string")
    parser.add_argument("--generate", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--llama-child", metavar="TEXT_FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.llama_child:
        return llama_child(args.model, args.threads[0], args.generate, args.llama_child)
    require_model_and_peer(args.model)

    extra_args = args.act_args.split()
    rows = []
    for length in args.prompt_tokens:
        text = prompt_text(args.model, length)
        for threads in args.threads:
            ours = best_of([bench_act(args.runner, args.model, text, threads, args.generate, extra_args)
                            for _ in range(args.repeats)])
            theirs = best_of([bench_llama(args.model, text, threads, args.generate) for _ in range(args.repeats)])
            rows.append((threads, ours, theirs))

    print(f"\nModel {args.model.name}; {args.generate} generated tokens; best of {args.repeats}; "
          f"act-llama arguments: {args.act_args or '(none)'}.\n")
    print("| prompt tokens (act / llama.cpp) | threads | measure | act-llama | llama.cpp | act / llama.cpp |")
    print("|---|---|---|---|---|---|")
    for threads, ours, theirs in rows:
        for key, label, unit in (("prefill", "prefill", "tok/s"), ("decode", "decode", "tok/s"),
                                 ("rss", "peak RSS", "MiB")):
            print(f"| {ours['prompt_tokens']} / {theirs['prompt_tokens']} | {threads} | {label} ({unit}) | "
                  f"{ours[key]:.1f} | {theirs[key]:.1f} | {ours[key] / theirs[key]:.2f} |")


if __name__ == "__main__":
    main()
