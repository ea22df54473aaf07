#!/usr/bin/env python3
"""Golden logits of an independent implementation, and parity of act's Llama against it.

The arbiter is Hugging Face transformers loading the same GGUF (dequantised to float32, float32
compute), which is what act's model does too. llama-cpp-python runs the same prompts for a second
opinion: it quantises activations to 8 bits for quantised matrices, so its logits differ more.

  tools/gen_golden_logits.py --model stories            # writes tests/data/golden_logits_stories.json
  tools/gen_golden_logits.py --model smollm             # writes tests/data/golden_logits_smollm.json
  tools/gen_golden_logits.py --model smollm --ours build-model/examples/act-llama/act-llama
                                                        # also prints act vs transformers and llama.cpp

Token ids come from llama.cpp's tokenizer so the stored prompts do not depend on act's tokenizer.
Only a slice of the logits is stored (top ids and values at a few positions, plus the
log-sum-exp there) so the files stay small; the comparison of --ours covers every position.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("ACT_CACHE_DIR", Path.home() / ".cache" / "act"))
MODELS = {
    "smollm": Path(os.environ.get("ACT_MODEL", CACHE / "SmolLM2-135M-Instruct.Q4_1.gguf")),
    "stories": ROOT.parent / "shared" / "models" / "stories260K.gguf",
}
TOP = 20
STORY = (
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park "
    "with her friends. One day, she saw a big red ball under a tree. She ran to the ball and picked "
    "it up. It was shiny and round. Lily wanted to share the ball with her friend Tom. Tom was sad "
    "because he lost his toy car. Lily said, \"Tom, do you want to play with my ball?\" Tom smiled "
    "and said, \"Yes, thank you!\" They played with the ball all day long. They threw it high in "
    "the sky and kicked it across the grass. When the sun went down, their mothers called them "
    "home. Lily and Tom hugged and said goodbye. That night, Lily dreamed about the ball and her "
    "friend. The next morning, she woke up early and ran to the park again. Tom was already there, "
    "waiting for her with a big smile. He had found his toy car under his bed! Now they had a ball "
    "and a car to play with. They built a little road out of sticks and stones, and the car raced "
    "along it while the ball rolled behind. A bird came down to watch them and sang a happy song. "
    "Lily laughed and clapped her hands. Tom said it was the best day ever, and Lily agreed. They "
    "promised to be friends forever, and to share their toys every day in the sunny park."
)


def prompts(tokenize):
    """Token ids of prompts of about 1, 8, 60 and 300 tokens."""
    words = STORY.split(" ")
    ids = [tokenize(" ".join(words[:k])) for k in (6, 45)]
    full = tokenize(STORY)
    single = tokenize("Once")[:1]
    return [single] + ids + [full[:300]]


def transformers_logits(path, tokens):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(path.parent, gguf_file=path.name)
    if config.pad_token_id is not None and config.pad_token_id >= config.vocab_size:
        config.pad_token_id = None  # stories260K stores 2^32-1 for "none"
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, config=config,
                                                 dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        return [model(torch.tensor([t])).logits[0].numpy().astype(np.float64) for t in tokens]


def llama_cpp_model(path, threads=2):
    import llama_cpp

    return llama_cpp.Llama(str(path), n_ctx=1024, logits_all=True, verbose=False, n_threads=threads)


def llama_cpp_logits(llm, tokens):
    out = []
    for t in tokens:
        llm.reset()
        llm.eval(t)
        out.append(np.array(llm.scores[: len(t)], dtype=np.float64))
    return out


def logsumexp(row):
    top = row.max()
    return float(top + np.log(np.exp(row - top).sum()))


def sample_positions(n):
    return sorted({0, n // 3, (2 * n) // 3, n - 1})


def golden_record(tokens, logits):
    positions = []
    for p in sample_positions(len(tokens)):
        row = logits[p]
        top = np.argsort(-row)[:TOP]
        positions.append({"position": p, "top_ids": [int(i) for i in top],
                          "top_logits": [round(float(row[i]), 5) for i in top],
                          "logsumexp": round(logsumexp(row), 5)})
    return {"tokens": [int(t) for t in tokens], "positions": positions}


def our_logits(runner, model, tokens):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "logits.f32"
        subprocess.run([runner, "dump-logits", "-m", str(model), "-t", "2", "--tokens",
                        ",".join(map(str, tokens)), "-o", str(out)], check=True)
        return np.fromfile(out, dtype=np.float32).astype(np.float64).reshape(len(tokens), -1)


def compare(label, ours, theirs):
    worst, agree, total = 0.0, 0, 0
    for a, b in zip(ours, theirs):
        worst = max(worst, float(np.abs(a - b).max()))
        agree += int((a.argmax(axis=1) == b.argmax(axis=1)).sum())
        total += a.shape[0]
    print(f"  {label:26s}: max |diff| {worst:.3e}   top-1 agreement {agree}/{total} "
          f"({100.0 * agree / total:.1f}%)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), required=True)
    parser.add_argument("--gguf", type=Path, help="override the model path")
    parser.add_argument("--ours", help="act-llama binary: compare its logits at every position")
    parser.add_argument("--no-write", action="store_true", help="only compare, keep the golden file")
    args = parser.parse_args()
    path = args.gguf or MODELS[args.model]
    if not path.exists():
        sys.exit(f"model not found: {path} (run tools/fetch_model.sh)")

    llm = llama_cpp_model(path)
    tokens = prompts(lambda text: llm.tokenize(text.encode(), add_bos=True))
    reference = transformers_logits(path, tokens)
    llama = llama_cpp_logits(llm, tokens)
    print(f"{args.model}: prompts of {[len(t) for t in tokens]} tokens")
    compare("llama.cpp vs transformers", llama, reference)

    if not args.no_write:
        golden = {"model": path.name, "reference": "transformers float32 (GGUF dequantised)",
                  "prompts": [golden_record(t, r) for t, r in zip(tokens, reference)]}
        target = ROOT / "tests" / "data" / f"golden_logits_{args.model}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(golden, separators=(",", ":")) + "\n")
        print(f"  wrote {target.relative_to(ROOT)} ({target.stat().st_size} bytes)")

    if args.ours:
        ours = [our_logits(args.ours, path, t) for t in tokens]
        compare("act vs transformers", ours, reference)
        compare("act vs llama.cpp", ours, llama)


if __name__ == "__main__":
    main()
