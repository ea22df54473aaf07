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
#   RUNNER, ACT_MODEL, ACT_DATA_DIR, THREADS as in tools/lib/runner_jobs.sh
#   RESULTS (build/eval-results)  HEADS (data/heads/smollm2-135m)
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib/runner_jobs.sh
results=${RESULTS:-build/eval-results}
heads=${HEADS:-data/heads/smollm2-135m}
mkdir -p "$results"

# run NAME ARGS...: one evaluation into $results/NAME.json, when the arguments name it.
run() {
  wanted_job "$1" "${jobs[@]}" || return 0
  eval_job "$results/$1.json" "${@:2}"
}

jobs=("$@")
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
