#!/usr/bin/env bash
# ACT through llama.cpp on an architecture the library's own model code does not have (CTest
# act_llama_cpp_arch_check): tools/make_random_gguf.py writes a tiny random qwen2 GGUF (biased
# q/k/v, grouped-query attention, byte-level BPE), then act-llama-cpp
#   - check-maps: every calibrated kq_soft_max map equals the library's double-precision oracle
#     (prompt in one ubatch, in ubatches of 5 tokens, then decode steps with running statistics),
#     and heads outside the set are untouched;
#   - dump-logits: plain runs are deterministic and the head set changes the logits;
#   - generate runs with the head set; a head set made for another model is refused.
# Exit 77 (skip) when python3 cannot import gguf and numpy (tools/install_deps.sh installs them).
#   check_arch.sh RUNNER REPO_DIR WORK_DIR
set -uo pipefail
runner=$1 repo=$2 work=$3
if ! python3 -c "import gguf, numpy" 2>/dev/null; then
  echo "skipped: python3 cannot import gguf and numpy (PyPI packages; tools/install_deps.sh installs them)"
  exit 77
fi
mkdir -p "$work"
model="$work/qwen2-random-tiny.gguf"
python3 "$repo/tools/make_random_gguf.py" "$model" --name qwen2-random-tiny || {
  echo "FAIL: make_random_gguf.py exited $?"
  exit 1
}
source "$(dirname "$0")/check_helpers.sh"

# 2 layers x 4 query heads; two heads per layer calibrated, two left alone.
cat >"$work/heads.json" <<'JSON'
{"format": "act-head-set", "version": 1, "model": "qwen2-random-tiny", "beta": 0.4, "tau": 0.1,
 "heads": [[0, 0], [0, 3], [1, 1], [1, 2]]}
JSON
cat >"$work/other_model.json" <<'JSON'
{"format": "act-head-set", "version": 1, "model": "llama", "beta": 0.4, "tau": 0.1, "heads": [[0, 0]]}
JSON
prompt="once upon a time there was a little girl who liked to play in the park with her dog and the news was good"

check_maps() {  # check_maps NAME [flags...]
  local name=$1 out
  shift
  if out=$("$runner" check-maps -m "$model" -t 1 --act-heads "$work/heads.json" -p "$prompt" "$@" 2>&1); then
    echo "ok: check-maps $name: $(tr '\n' ' ' <<<"$out")"
  else
    fail "check-maps $name: $out"
  fi
}
check_maps one_ubatch --decode 8
check_maps ubatches_of_5 --ubatch 5 --decode 8

dump_compare "$work/heads.json"

"$runner" generate -m "$model" -t 1 --act-heads "$work/heads.json" -p "$prompt" -n 8 >/dev/null ||
  fail "generate with the head set exited $?"
expect_error other_model "made for model" check-maps -m "$model" -p "$prompt" --act-heads "$work/other_model.json"
finish "act-llama-cpp architecture check (qwen2)"
