#!/usr/bin/env bash
# Issue 13, section 2: each calibration policy gets its own exact head search on the
# classification calib prompts (the shipped set's candidates and selection rule: layers 2..28,
# 128 prompts, a gain of at least 2 prompts), then a dev evaluation of the 9 classification tasks.
# The paper's rule is the shipped set (data/heads/smollm2-135m-classification.json); the
# variants are searched with the library's float32 GEMM and the early stop, which select the same
# heads as the exact OpenBLAS search (docs/results.md, "Head search: cheaper matrix products").
# Head sets go to data/heads/policies/, evaluations to $RESULTS; searches resume from their
# checkpoints and finished evaluations are kept, so an interrupted run resumes. Then prints how
# each variant's heads compare with the paper's (tools/compare_head_sets.py) and the tables
# (tools/eval_tables.py --policies).
#
#   RUNNER, ACT_MODEL, ACT_DATA_DIR, THREADS as in tools/lib/runner_jobs.sh
#   WORK (build/policy-search)  RESULTS (build/policy-results)
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib/runner_jobs.sh
work=${WORK:-build/policy-search}
results=${RESULTS:-build/policy-results}
heads=data/heads/policies
mkdir -p "$work" "$results" "$heads"

# search NAME POLICY-ARGS...: one exact search into $heads/NAME.json.
search() {
  search_job "$1" "$heads/$1.json" "$work" -q --tasks classification --min-gain 0.01 --matmul f32 --early-stop "${@:2}"
}

# evaluate NAME ARGS...: the classification dev split into $results/NAME.json.
evaluate() {
  eval_job "$results/$1.json" --task classification --protocol label "${@:2}"
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
