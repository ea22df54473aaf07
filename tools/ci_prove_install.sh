#!/usr/bin/env bash
# CI's install proof. CI runs on a machine where packages installed by hand in earlier sessions
# are still present, which once hid a package missing from tools/install_deps.sh. This script puts
# the machine back to what a new machine of this kind has (the Debian packages listed in
# ../shared/env/base-image-packages.txt) by removing every other package, then runs
# tools/install_deps.sh: whatever the build needs and the script forgets is then missing, and the
# build that follows fails as it would on a new machine.
#
# Usage: tools/ci_prove_install.sh [BASE_LIST]   (default: ../shared/env/base-image-packages.txt)
# Needs root (CI runs as root). Refuses to remove anything the base list names, so it can only
# take away what was added to the machine after it was new.
set -euo pipefail
cd "$(dirname "$0")/.."
base_list="${1:-../shared/env/base-image-packages.txt}"
if [ ! -r "$base_list" ]; then
  echo "ci_prove_install: no base package list at $base_list; install proof skipped" >&2
  exit 0
fi

# A run killed while apt was removing or installing leaves dpkg half-done, and every apt call after
# it refuses to start ("dpkg was interrupted"); finish that work first.
dpkg --configure -a

installed() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" { print $2 }' | sort -u; }
base() { grep -v '^#' "$base_list" | awk 'NF { print $1 }' | sort -u; }

mapfile -t extra < <(comm -23 <(installed) <(base))
if ((${#extra[@]})); then
  # apt may take more with them (packages depending on them); none of those may be a base package.
  mapfile -t removed < <(apt-get -s remove "${extra[@]}" | awk '/^Remv / { print $2 }' | sed 's/:.*//' | sort -u)
  mapfile -t base_hit < <(comm -12 <(printf '%s\n' "${removed[@]}") <(base))
  if ((${#base_hit[@]})); then
    echo "ci_prove_install: error: removing ${extra[*]} would remove base packages: ${base_hit[*]}" >&2
    exit 1
  fi
  echo "ci_prove_install: removing ${#extra[@]} packages a new machine does not have: ${extra[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "${extra[@]}" >/dev/null
fi
left=$(comm -23 <(installed) <(base) | tr '\n' ' ')
[ -z "$left" ] || { echo "ci_prove_install: error: still installed beyond the base list: $left" >&2; exit 1; }
echo "ci_prove_install: machine is at the base package list; installing the build's dependencies"
tools/install_deps.sh
