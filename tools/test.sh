#!/usr/bin/env bash
# The test command: installs dependencies, fetches the model, builds everything and runs CTest.
# Usage: tools/test.sh [preset]   (preset: release (default) or sanitize)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
tools/install_deps.sh
tools/fetch_model.sh >/dev/null || echo "test.sh: model fetch failed; [smollm] tests will be skipped" >&2
tools/fetch_llama_cpp.sh >/dev/null || echo "test.sh: llama.cpp fetch failed; act-llama-cpp and ggml tests will be skipped" >&2
cmake --preset "$preset"
cmake --build --preset "$preset"
ctest --preset "$preset"
