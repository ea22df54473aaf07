# Shared by the fetch scripts (sourced, not run): errors named after the calling script, sha256 of
# a file, and the cache folder (ACT_CACHE_DIR, default $HOME/.cache/act).

die() {
  echo "$(basename "$0"): error: $*" >&2
  exit 1
}

# python3's hashlib instead of sha256sum/shasum, which differ between platforms.
sha256_of() {
  python3 - "$1" <<'PY'
import hashlib, sys
digest = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        digest.update(chunk)
print(digest.hexdigest())
PY
}

# Prints the cache folder; dies when neither ACT_CACHE_DIR nor HOME says where it is.
cache_dir() {
  command -v python3 >/dev/null || die "python3 is required"
  if [[ -z "${ACT_CACHE_DIR:-}" && -z "${HOME:-}" ]]; then
    die "neither ACT_CACHE_DIR nor HOME is set; cannot choose a cache folder"
  fi
  echo "${ACT_CACHE_DIR:-$HOME/.cache/act}"
}
