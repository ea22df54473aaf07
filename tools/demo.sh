#!/usr/bin/env bash
# The main job: build the runner, fetch SmolLM2-135M-Instruct, and run it with and without ACT:
# a chat generation, then (when the evaluation data of ../shared/data is present) the SST-2 dev
# split scored with plain attention and with the searched head set in data/heads/.
# Environment: ACT_THREADS (default: all cores), ACT_DEMO_ROWS (SST-2 rows, default 174 = all).
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
data="${ACT_DATA_DIR:-../shared/data}"
if [ ! -d "$data/sst2" ]; then
  echo "== accuracy: skipped (no evaluation data at $data; set ACT_DATA_DIR)"
  exit 0
fi
echo "== SST-2 dev accuracy, plain attention"
"$runner" eval -m "$model" -t "$threads" --data "$data" --task sst2 --split dev --protocol label --limit "$rows"
echo "== SST-2 dev accuracy, ACT with $heads"
"$runner" eval -m "$model" -t "$threads" --data "$data" --task sst2 --split dev --protocol label --limit "$rows" --act-heads "$heads"
