# What the act-llama-cpp check scripts (check.sh, check_arch.sh) share; sourced, not run. The caller
# sets runner (the act-llama-cpp binary), model and prompt.
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

dump() {  # dump OUTPUT [flags...]: the logits of the prompt
  local out=$1
  shift
  "$runner" dump-logits -m "$model" -t 1 -p "$prompt" -o "$out" "$@" || fail "dump-logits $* exited $?"
}

# Plain runs are deterministic and the head set changes the logits: dump_compare HEADS [flags...].
dump_compare() {
  local heads=$1 work
  shift
  work=$(dirname "$heads")
  dump "$work/plain1.f32" "$@"
  dump "$work/plain2.f32" "$@"
  dump "$work/act.f32" --act-heads "$heads" "$@"
  [[ -s "$work/plain1.f32" ]] || fail "no logits written"
  cmp -s "$work/plain1.f32" "$work/plain2.f32" || fail "two plain runs differ"
  cmp -s "$work/plain1.f32" "$work/act.f32" && fail "the head set did not change the logits ($*)"
}

expect_error() {  # expect_error NAME PATTERN ARGS...: a non-zero exit and one clear message
  local name=$1 pattern=$2
  shift 2
  local err code
  err=$("$runner" "$@" 2>&1 >/dev/null)
  code=$?
  if ((code == 0 || code > 127)); then
    fail "$name: expected a non-zero exit, got $code"
  elif ! grep -q "act-llama-cpp: error: .*$pattern" <<<"$err"; then
    fail "$name: stderr does not match '$pattern': $err"
  else
    echo "ok: $name (exit $code)"
  fi
}

finish() {  # finish NAME: the summary line and the exit code
  ((failures == 0)) && echo "$1: all passed"
  exit $((failures == 0 ? 0 : 1))
}
