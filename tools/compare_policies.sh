#!/usr/bin/env bash
# Issue 13, section 2: each calibration policy gets its own exact head search on the
# classification calib prompts (the shipped set's candidates and selection rule: layers 2..28,
# 128 prompts, a gain of at least 2 prompts), then a dev evaluation of the 9 classification tasks.
# The paper's rule is the shipped set (data/heads/smollm2-135m-classification.json); the
# variants are searched with the library's float32 GEMM and the early stop, which select the same
# heads as the exact OpenBLAS search (docs/results.md, "Head search: cheaper matrix products").
# Head sets go to data/heads/policies/, evaluations to $RESULTS; finished files are kept, so an
# interrupted run resumes. Then prints how each variant's heads compare with the paper's
# (tools/compare_head_sets.py) and the tables (tools/eval_tables.py --policies).
#
#   RUNNER (build/release/examples/act-llama)  ACT_MODEL (~/.cache/act/SmolLM2-135M-Instruct.Q4_1.gguf)
#   ACT_DATA_DIR (../shared/data)  THREADS (2)  WORK (build/policy-search)  RESULTS (build/policy-results)
set -euo pipefail
cd "$(dirname "$0")/.."
runner=${RUNNER:-build/release/examples/act-llama}
model=${ACT_MODEL:-$HOME/.cache/act/SmolLM2-135M-Instruct.Q4_1.gguf}
work=${WORK:-build/policy-search}
results=${RESULTS:-build/policy-results}
threads=${THREADS:-2}
heads=data/heads/policies
export ACT_DATA_DIR=${ACT_DATA_DIR:-../shared/data}
mkdir -p "$work" "$results" "$heads"

# search NAME POLICY-ARGS...: one exact search into $heads/NAME.json, skipped when it exists.
search() {
  local name=$1
  shift
  [ -s "$heads/$name.json" ] && return 0
  echo "== search $name" >&2
  /usr/bin/time -f "search $name: %e s wall, %U s user" "$runner" search-heads -m "$model" -t "$threads" -q \
    --tasks classification --prompts 128 --min-gain 0.01 --matmul f32 --early-stop \
    --checkpoint "$work/$name.ckpt" -o "$heads/$name.json" "$@" 2>&1 | tee "$work/$name.log"
}

# evaluate NAME ARGS...: the classification dev split into $results/NAME.json, skipped when it exists.
evaluate() {
  local name=$1
  shift
  [ -s "$results/$name.json" ] && return 0
  echo "== eval $name" >&2
  "$runner" eval -m "$model" -t "$threads" -q --split dev --task classification --protocol label \
    --per-example --out "$results/$name.json.part" "$@" > "$results/$name.log"
  mv "$results/$name.json.part" "$results/$name.json"
}

search keep-token0 --detector column-mean:0.1:token0 --rescaler redistribute:0.4
search scale-only --detector column-mean:0.1 --rescaler scale-only:0.4
search top-k-2 --detector top-k:2 --rescaler redistribute:0.4
search initial-token --detector initial-token --factors 0.4,1.5

evaluate baseline
evaluate policy-paper --act-heads data/heads/smollm2-135m-classification.json
for name in keep-token0 scale-only top-k-2 initial-token; do
  evaluate "policy-$name" --act-heads "$heads/$name.json"
done

for name in keep-token0 scale-only top-k-2 initial-token; do
  echo "== heads of $name against the paper's set"
  python3 tools/compare_head_sets.py data/heads/smollm2-135m-classification.json "$heads/$name.json"
done
python3 tools/eval_tables.py --policies "$results"
