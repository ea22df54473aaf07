#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, fuzz/CMakeLists.txt; fuzz_attention is the differential
# fuzzer of the attention kernels against the double oracle) and runs each one for SECONDS on one
# core, then prints a table of executions and crashes per target. Exits non-zero if any target
# crashed; the crashing inputs are kept in fuzz/corpus-run/crashes/<target>/.
#
#   tools/fuzz.sh [seconds-per-target]     (default 60)
#
# Each target starts from its committed seeds (fuzz/corpus/<target>), the generated ones
# (write_fuzz_seeds) and what earlier runs found (fuzz/corpus-run/<target>, not committed).
# fuzz_tokenizer reads stories260K from ../shared and SmolLM2 from the fetch cache.
#   ACT_FUZZ_BUILD_DIR   build folder (default: build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: seconds-per-target must be a positive integer" >&2; exit 2; }
build="${ACT_FUZZ_BUILD_DIR:-build-fuzz}"
runs=fuzz/corpus-run
targets=(fuzz_gguf fuzz_tokenizer fuzz_jsonl fuzz_head_set fuzz_sampler fuzz_attention)
# Longest input libFuzzer may generate: JSON needs room for deep nesting and long lines; 0 lets
# libFuzzer take the largest seed (the tiny llama GGUFs). fuzz_attention reads under 64 bytes of
# choices; longer inputs only repeat them.
declare -A max_len=([fuzz_gguf]=0 [fuzz_tokenizer]=16384 [fuzz_jsonl]=65536 [fuzz_head_set]=65536 [fuzz_sampler]=4096
  [fuzz_attention]=128)

tools/install_deps.sh
ACT_MODEL="$(tools/fetch_model.sh | tail -n 1)" || { echo "fuzz.sh: cannot fetch the SmolLM2 model" >&2; exit 2; }
export ACT_MODEL

CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DACT_BUILD_FUZZERS=ON \
  -DACT_BUILD_TESTS=OFF -DACT_BUILD_EXAMPLES=OFF -DACT_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" --target "${targets[@]}" write_fuzz_seeds
"$build/fuzz/write_fuzz_seeds" "$runs/generated"

# "stat::number_of_executed_units: N" from libFuzzer's final statistics.
executions_in() { sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n 1; }

results=()
crashed=0
for target in "${targets[@]}"; do
  crashes_dir="$runs/crashes/$target"
  mkdir -p "$runs/$target" "$crashes_dir"
  seeds=(fuzz/corpus/"$target")
  [[ -d "$runs/generated/$target" ]] && seeds+=("$runs/generated/$target")
  log="$runs/$target.log"
  echo "fuzz.sh: $target for ${seconds}s (log: $log)" >&2
  start=$SECONDS
  status=0
  "$build/fuzz/$target" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -max_len="${max_len[$target]}" -print_final_stats=1 -artifact_prefix="$crashes_dir/" \
    "$runs/$target" "${seeds[@]}" >"$log" 2>&1 || status=$?
  crashes=$(find "$crashes_dir" -type f | wc -l)
  if ((status != 0 || crashes != 0)); then
    crashed=1
    grep -E 'ERROR|SUMMARY|property failed|what\(\)' "$log" | head -n 5 >&2 || true
  fi
  results+=("$(printf '%-16s %14s %8s %8s %6s' "$target" "$(executions_in "$log")" "$((SECONDS - start))" "$crashes" "$status")")
done

printf '%-16s %14s %8s %8s %6s\n' target executions seconds crashes exit
printf '%s\n' "${results[@]}"
exit "$crashed"
