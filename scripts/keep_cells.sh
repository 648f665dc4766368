#!/usr/bin/env bash
# keep_cells.sh FOLDER...: keep the finished cells of out/FOLDER in docs/results/FOLDER and bring back the kept ones
# a checkout lacks (run from the repository root; refresh_results.sh does). A cell is a suite cell
# (KIND/SHARE/cells/*.json) or a shortcut-check row file (KIND-SEED.json), a few hundred bytes of JSON; the newer
# copy wins both ways, so a fresh checkout reports, and resumes, from what was committed.
set -euo pipefail
KEPT=${KEPT:-docs/results}
CELLS=( -path './*/*/cells/*.json' -o -regex '\./[a-z]+-[0-9]+\.json' )

copy_newer() {  # copy_newer FROM TO: every cell of FROM into TO where TO lacks it or holds an older copy
  local rel
  [ -d "$1" ] || return 0
  (cd "$1" && find . "${CELLS[@]}") | while read -r rel; do
    mkdir -p "$2/$(dirname "$rel")" && cp -u -p "$1/$rel" "$2/$rel"
  done
}

for name in "$@"; do
  copy_newer "$KEPT/$name" "out/$name"
  copy_newer "out/$name" "$KEPT/$name"
done
