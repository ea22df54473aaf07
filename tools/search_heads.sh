#!/usr/bin/env bash
# Searches the shipped head sets (data/heads/smollm2-135m-*.json) on the calib split, spec
# section 3: every candidate head (layers 2..28 of 30, 243 heads) calibrated alone on 128 prompts.
#   classification   the 9 classification tasks, label protocol, exact search
#   multiple-choice  the 7 multiple-choice tasks, loglik-norm protocol, screened (32 prompts, best 48 kept)
#   shared           all 16 tasks, screened likewise
# plus, for measuring screening, the classification search screened (written to $WORK only), and
# the multiple-choice and shared sets searched exactly (every head on all 128 prompts; the library's
# float32 GEMM and the early stop, which select what the exact OpenBLAS search selects):
#   multiple-choice-exact, shared-exact   data/heads/smollm2-135m-{multiple-choice,shared}-exact.json
# Arguments name the searches to run (default: all of them, in the order above).
# Selection: heads whose accuracy gain exceeds 0.01, i.e. at least 2 of the 128 prompts more right
# than wrong (a single flip is within noise). Every search checkpoints to $WORK and resumes when
# re-run; re-running with finished checkpoints only re-applies the selection rule (SELECT,
# MIN_GAIN, TOP_K) to the stored measurements.
#
#   RUNNER, ACT_MODEL, ACT_DATA_DIR, THREADS as in tools/lib/runner_jobs.sh
#   WORK (build/head-search)  SELECT (accuracy)  MIN_GAIN (0.01)  TOP_K (0)
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib/runner_jobs.sh
work=${WORK:-build/head-search}
rule=(--select "${SELECT:-accuracy}" --min-gain "${MIN_GAIN:-0.01}" --top-k "${TOP_K:-0}")
mkdir -p "$work" data/heads

# search NAME OUT ARGS...: one search, when the arguments name it.
search() {
  wanted_job "$1" "${jobs[@]}" || return 0
  search_job "$1" "$2" "$work" "${rule[@]}" "${@:3}"
}

jobs=("$@")
screen=(--screen-prompts 32 --screen-keep 48)
search classification data/heads/smollm2-135m-classification.json --tasks classification
search multiple-choice data/heads/smollm2-135m-multiple-choice.json --tasks multiple_choice --protocol loglik-norm "${screen[@]}"
search shared data/heads/smollm2-135m-shared.json --tasks all --protocol loglik-norm "${screen[@]}"
search classification-screened "$work/classification-screened.json" --tasks classification "${screen[@]}"
exact=(--matmul f32 --early-stop)
search multiple-choice-exact data/heads/smollm2-135m-multiple-choice-exact.json --tasks multiple_choice --protocol loglik-norm "${exact[@]}"
search shared-exact data/heads/smollm2-135m-shared-exact.json --tasks all --protocol loglik-norm "${exact[@]}"
