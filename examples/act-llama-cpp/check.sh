#!/usr/bin/env bash
# Short end-to-end check of act-llama-cpp on stories260K (CTest act_llama_cpp_check): plain runs
# are deterministic, a head set changes the logits, chunked prefill (running statistics) works,
# and bad input fails with a clear message and a non-zero exit. Exit 77 (skip) without ../shared.
# stories260K: 5 layers of 8 heads.
#   check.sh RUNNER STORIES_GGUF WORK_DIR
set -uo pipefail
runner=$1 stories=$2 work=$3
# ACT_SHARED_DIR points at ../shared from a checkout that is not beside it (as the C++ tests read it).
[[ -n "${ACT_SHARED_DIR:-}" ]] && stories="$ACT_SHARED_DIR/models/stories260K.gguf"
if [[ ! -f "$stories" ]]; then
  echo "skipped: $stories not found (../shared is absent)"
  exit 77
fi
mkdir -p "$work"
model=$stories
source "$(dirname "$0")/check_helpers.sh"

# Every head of stories260K's 5 layers x 8 heads that this file names exists; tau 0.05 makes sure
# sinks are found in a short prompt, so the logits must change.
cat >"$work/heads.json" <<'JSON'
{"format": "act-head-set", "version": 1, "model": "llama", "beta": 0.4, "tau": 0.05,
 "heads": [[0, 1], [1, 3], [2, 0], [3, 5], [4, 7]]}
JSON
cat >"$work/other_model.json" <<'JSON'
{"format": "act-head-set", "version": 1, "model": "other", "beta": 0.4, "tau": 0.1, "heads": [[1, 0]]}
JSON
cat >"$work/outside.json" <<'JSON'
{"format": "act-head-set", "version": 1, "model": "llama", "beta": 0.4, "tau": 0.1, "heads": [[40, 0]]}
JSON
prompt="Once upon a time there was a little girl who liked to play in the park with her dog"

dump_compare "$work/heads.json"
dump_compare "$work/heads.json" --ubatch 4  # chunked prefill: running statistics

expect_error head_outside_model "head set names (layer 40" dump-logits -m "$stories" -p hi -o "$work/x" --act-heads "$work/outside.json"
expect_error flash_attention_forced "flash attention keeps no softmax map" dump-logits -m "$stories" -p hi -o "$work/x" --act-heads "$work/heads.json" --flash-attn on
expect_error missing_model "none.gguf" dump-logits -m "$work/none.gguf" -p hi -o "$work/x"
expect_error corrupt_model "not a GGUF file" dump-logits -m "$work/heads.json" --tokens 1,2 -o "$work/x"
expect_error other_model "made for model" dump-logits -m "$stories" -p hi -o "$work/x" --act-heads "$work/other_model.json"
expect_error bad_token "outside the vocabulary" dump-logits -m "$stories" --tokens 1,999999 -o "$work/x"
expect_error context_overflow "exceeds the context" dump-logits -m "$stories" -p "$prompt" --ctx 4 -o "$work/x"

# llama.cpp stops the process (GGML_ASSERT, SIGABRT) on these files; act-llama-cpp checks them first.
# patched NAME KEY PACK VALUE: a copy of stories260K with the value of metadata KEY (after its 4-byte
# type) replaced by struct.pack(PACK, VALUE).
patched() {
  python3 - "$stories" "$work/$1.gguf" "$2" "$3" "$4" <<'PY'
import struct, sys
source, target, key, pack, value = sys.argv[1:]
data = bytearray(open(source, "rb").read())
at = data.index(key.encode()) + len(key) + 4
data[at:at + struct.calcsize(pack)] = struct.pack(pack, float(value) if pack == "<f" else int(value))
open(target, "wb").write(data)
PY
  echo "$work/$1.gguf"
}
expect_error block_count_zero "block_count = 0" dump-logits -m "$(patched layers0 llama.block_count '<I' 0)" -p hi -o "$work/x"
expect_error block_count_above_llama_cpp "block_count must be in 1..512 for llama.cpp (got 600)" \
  dump-logits -m "$(patched layers600 llama.block_count '<I' 600)" -p hi -o "$work/x"
expect_error epsilon_nan "layer_norm_rms_epsilon nan must be in (0, 1)" \
  dump-logits -m "$(patched eps_nan llama.attention.layer_norm_rms_epsilon '<f' nan)" -p hi -o "$work/x"

finish "act-llama-cpp check"
