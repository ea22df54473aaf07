#!/usr/bin/env bash
# The main job: build the runner, fetch SmolLM2-135M-Instruct, and run it with and without ACT:
# a chat generation; a built-in sample of 24 sentences scored with plain attention and with the
# searched classification head set in data/heads/; then, when the evaluation data of
# ../shared/data is present, the SST-2 and ARC-Easy dev splits the same way.
# Environment: ACT_THREADS (default: all cores), ACT_DEMO_ROWS (dev rows per task, default all).
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${ACT_THREADS:-$(nproc)}"
rows="${ACT_DEMO_ROWS:-0}"
tools/install_deps.sh
model="$(tools/fetch_model.sh | tail -n 1)"
cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DACT_BUILD_TESTS=OFF -DACT_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build/demo --target act-llama -j "$threads" >/dev/null
runner=build/demo/examples/act-llama
heads=data/heads/smollm2-135m-classification.json
prompt="Name three things that make a good cup of tea."

echo "== generate, plain attention"
"$runner" generate -m "$model" -t "$threads" --chat -p "$prompt" -n 48
echo
echo "== generate, ACT with $heads"
"$runner" generate -m "$model" -t "$threads" --chat -p "$prompt" -n 48 --act-heads "$heads"
echo
# eval_both LABEL HEADS EVAL-ARGS...: one evaluation with plain attention, then with HEADS.
eval_both() {
  local label=$1 head_file=$2
  shift 2
  echo "== $label, plain attention"
  "$runner" eval -m "$model" -t "$threads" "$@"
  echo "== $label, ACT with $head_file"
  "$runner" eval -m "$model" -t "$threads" "$@" --act-heads "$head_file"
}

eval_both "built-in sample (examples/data: 24 sentences written for this demo, too few to measure accuracy)" \
  "$heads" --data examples/data --task sst2 --split dev --protocol label
data="${ACT_DATA_DIR:-../shared/data}"
if [ ! -d "$data/sst2" ]; then
  echo "== dev-split accuracy: skipped (no evaluation data at $data; set ACT_DATA_DIR)"
  exit 0
fi
eval_both "SST-2 dev accuracy" "$heads" --data "$data" --task sst2 --split dev --protocol label --limit "$rows"
eval_both "ARC-Easy dev accuracy" data/heads/smollm2-135m-multiple-choice.json \
  --data "$data" --task arc_easy --split dev --protocol loglik-norm --limit "$rows"
