# shellcheck shell=bash
# Shared by the measurement scripts (sourced, not run): search_heads.sh, run_eval.sh and
# compare_policies.sh. Each job is one act-llama run that writes one file. act-llama writes its
# output files atomically, so a file that exists is a finished job: an interrupted script resumes.
#
#   RUNNER (build/release/examples/act-llama)  ACT_MODEL (~/.cache/act/SmolLM2-135M-Instruct.Q4_1.gguf)
#   ACT_DATA_DIR (../shared/data)  THREADS (2)

runner=${RUNNER:-build/release/examples/act-llama}
model=${ACT_MODEL:-$HOME/.cache/act/SmolLM2-135M-Instruct.Q4_1.gguf}
threads=${THREADS:-2}
export ACT_DATA_DIR=${ACT_DATA_DIR:-../shared/data}
[ -x "$runner" ] || { echo "$(basename "$0"): error: no runner at $runner (build it, or set RUNNER)" >&2; exit 1; }

# wanted_job NAME ARGS...: true when ARGS (the script's arguments) are empty or name NAME.
wanted_job() {
  local name=$1
  shift
  [ $# -eq 0 ] || [[ " $* " == *" $name "* ]]
}

# search_job NAME OUT WORK ARGS...: `act-llama search-heads` on 128 calib prompts into OUT,
# checkpointed to WORK/NAME.ckpt and logged to WORK/NAME.log; ARGS name the tasks and the rule.
# Always runs: a finished checkpoint only re-applies the selection rule to its measurements.
search_job() {
  local name=$1 out=$2 work=$3
  shift 3
  echo "== search $name" >&2
  /usr/bin/time -f "search $name: %e s wall, %U s user" "$runner" search-heads -m "$model" -t "$threads" \
    --prompts 128 --checkpoint "$work/$name.ckpt" -o "$out" "$@" 2>&1 | tee "$work/$name.log"
}

# eval_job OUT ARGS...: `act-llama eval` of the dev split into OUT (per-example results), its table
# logged beside it; skipped when OUT exists.
eval_job() {
  local out=$1 name
  shift
  name=$(basename "$out" .json)
  [ -s "$out" ] && return 0
  echo "== eval $name" >&2
  /usr/bin/time -f "eval $name: %e s wall, %U s user" "$runner" eval -m "$model" -t "$threads" -q --split dev \
    --per-example --out "$out" "$@" | tee "${out%.json}.log"
}
