#!/usr/bin/env bash
# Reproduces the evaluation numbers of docs/results.md on the dev split, zero-shot unless noted:
#   baseline          every task under every protocol, no ACT
#   act-<family>      the family's searched head set (data/heads/) on that family's tasks
#   act-shared        the shared head set on every task
#   random-<family>   as many random candidate heads as the family's set (seed 1)
#   all-heads         every candidate head (layers 2..28)
#   grid-sst2-b*-t*   sst2 with the classification set under other beta and tau
#   kshot-*           sst2 and trec, 4 demonstrations, seeds 1,2,3, without and with ACT
#   act-*-exact       the multiple-choice and shared sets searched exactly (tools/search_heads.sh)
# Arguments name the evaluations to run (default: all of them).
# Then prints the tables (tools/eval_tables.py). Finished result files are kept, so an
# interrupted run resumes at the first missing one.
#
#   RUNNER (build/examples/act-llama)  ACT_MODEL (~/.cache/act/SmolLM2-135M-Instruct.Q4_1.gguf)
#   ACT_DATA_DIR (../shared/data)  THREADS (2)  RESULTS (build/eval-results)  HEADS (data/heads/smollm2-135m)
set -euo pipefail
cd "$(dirname "$0")/.."
runner=${RUNNER:-build/examples/act-llama}
model=${ACT_MODEL:-$HOME/.cache/act/SmolLM2-135M-Instruct.Q4_1.gguf}
results=${RESULTS:-build/eval-results}
heads=${HEADS:-data/heads/smollm2-135m}
export ACT_DATA_DIR=${ACT_DATA_DIR:-../shared/data}
mkdir -p "$results"

# run NAME ARGS...: one eval into $results/NAME.json, skipped when that file exists.
wanted=("$@")
run() {
  local name=$1
  shift
  [ -s "$results/$name.json" ] && return 0
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " == *" $name "* ]]; then return 0; fi
  echo "== $name" >&2
  /usr/bin/time -f "$name: %e s wall, %U s user" "$runner" eval -m "$model" -t "${THREADS:-2}" -q --split dev \
    --per-example --out "$results/$name.json.part" "$@" | tee "$results/$name.log"
  mv "$results/$name.json.part" "$results/$name.json"
}

cls=(--task classification --protocol label)
mc=(--task multiple_choice --protocol letter,loglik,loglik-norm)
all=(--task all --protocol label,letter,loglik,loglik-norm)

run baseline "${all[@]}"
run act-classification "${cls[@]}" --act-heads "$heads-classification.json"
run act-multiple-choice "${mc[@]}" --act-heads "$heads-multiple-choice.json"
run act-shared "${all[@]}" --act-heads "$heads-shared.json"
run random-classification "${cls[@]}" --act-heads "$heads-classification.json" --control random --control-seed 1
run random-multiple-choice "${mc[@]}" --act-heads "$heads-multiple-choice.json" --control random --control-seed 1
run all-heads "${all[@]}" --control all
for beta in 0.2 0.4 0.6; do
  for tau in 0.05 0.1 0.2; do
    run "grid-sst2-b$beta-t$tau" --task sst2 --protocol label --act-heads "$heads-classification.json" --beta "$beta" --tau "$tau"
  done
done
run kshot-baseline --task sst2,trec --protocol label --shots 4 --seeds 1,2,3
run kshot-act --task sst2,trec --protocol label --shots 4 --seeds 1,2,3 --act-heads "$heads-classification.json"
run act-multiple-choice-exact "${mc[@]}" --act-heads "$heads-multiple-choice-exact.json"
run act-shared-exact "${all[@]}" --act-heads "$heads-shared-exact.json"

python3 tools/eval_tables.py "$results"
