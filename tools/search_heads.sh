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
#   RUNNER (build/examples/act-llama)  ACT_MODEL (~/.cache/act/SmolLM2-135M-Instruct.Q4_1.gguf)
#   ACT_DATA_DIR (../shared/data)  THREADS (2)  WORK (build/head-search)
#   SELECT (accuracy)  MIN_GAIN (0.01)  TOP_K (0)
set -euo pipefail
cd "$(dirname "$0")/.."
runner=${RUNNER:-build/examples/act-llama}
model=${ACT_MODEL:-$HOME/.cache/act/SmolLM2-135M-Instruct.Q4_1.gguf}
work=${WORK:-build/head-search}
threads=${THREADS:-2}
select=${SELECT:-accuracy}
min_gain=${MIN_GAIN:-0.01}
top_k=${TOP_K:-0}
export ACT_DATA_DIR=${ACT_DATA_DIR:-../shared/data}
mkdir -p "$work" data/heads

wanted=("$@")
search() {
  local name=$1 out=$2
  shift 2
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " == *" $name "* ]]; then return 0; fi
  echo "== $name" >&2
  /usr/bin/time -f "$name: %e s wall, %U s user" "$runner" search-heads -m "$model" -t "$threads" --prompts 128 \
    --select "$select" --min-gain "$min_gain" --top-k "$top_k" --checkpoint "$work/$name.ckpt" -o "$out" "$@" 2>&1 | tee "$work/$name.log"
}

screen=(--screen-prompts 32 --screen-keep 48)
search classification data/heads/smollm2-135m-classification.json --tasks classification
search multiple-choice data/heads/smollm2-135m-multiple-choice.json --tasks multiple_choice --protocol loglik-norm "${screen[@]}"
search shared data/heads/smollm2-135m-shared.json --tasks all --protocol loglik-norm "${screen[@]}"
search classification-screened "$work/classification-screened.json" --tasks classification "${screen[@]}"
exact=(--matmul f32 --early-stop)
search multiple-choice-exact data/heads/smollm2-135m-multiple-choice-exact.json --tasks multiple_choice --protocol loglik-norm "${exact[@]}"
search shared-exact data/heads/smollm2-135m-shared-exact.json --tasks all --protocol loglik-norm "${exact[@]}"
