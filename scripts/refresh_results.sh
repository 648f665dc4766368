#!/usr/bin/env bash
# Regenerate every result table of README.md, and each suite's suite.md, suite.json and suite.png, from the cells
# that have finished (nothing is trained). A result folder that does not exist yet is skipped.
# Finished cells (a few hundred bytes of JSON each) are kept in docs/results/<folder>/ beside out/: each run copies
# the newer of the two both ways, so a fresh checkout reports, and resumes, from the cells committed there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
KEPT=docs/results

keep_cells() {  # keep_cells FOLDER: the suite cells (KIND/SHARE/cells/*.json) or check rows (KIND-SEED.json) of out/FOLDER
  local name=$1 rel
  mkdir -p "out/$name" "$KEPT/$name"
  local cells=( -path './*/*/cells/*.json' -o -regex '\./[a-z]+-[0-9]+\.json' )
  (cd "$KEPT/$name" && find . "${cells[@]}") | while read -r rel; do
    mkdir -p "out/$name/$(dirname "$rel")" && cp -u -p "$KEPT/$name/$rel" "out/$name/$rel"; done
  (cd "out/$name" && find . "${cells[@]}") | while read -r rel; do
    mkdir -p "$KEPT/$name/$(dirname "$rel")" && cp -u -p "out/$name/$rel" "$KEPT/$name/$rel"; done
}
for name in suite-honest suite-held suite-pseudo suite-resnet18 suite-keep-best suite-strategies shortcut-check; do
  if [ -d "out/$name" ] || [ -d "$KEPT/$name" ]; then keep_cells "$name"; fi
done

if [ -d out/suite-honest ]; then
  "$PY" scripts/simulate.py --suite --report --out out/suite-honest --train-images 1000 --shares 0.05 0.02 \
      --kinds texture patch background
  "$PY" scripts/fill_readme.py honest-suite out/suite-honest/suite.md
fi
if [ -d out/suite-held ]; then
  "$PY" scripts/simulate.py --suite --report --out out/suite-held --train-images 1000 --shares 0.02 0.05 \
      --kinds cast logo scale --chosen-on texture companion
  "$PY" scripts/fill_readme.py held-out-suite out/suite-held/suite.md
fi
if [ -d out/suite-pseudo ]; then
  "$PY" scripts/simulate.py --suite --report --out out/suite-pseudo --train-images 1000 --shares 0.02 \
      --kinds texture background --chosen-on texture companion background
  "$PY" scripts/fill_readme.py pseudo-suite out/suite-pseudo/suite.md
fi
if [ -d out/suite-resnet18 ]; then
  # texture ran with auto only (before pseudo masks were the default): its verdict line says the default did not run
  "$PY" scripts/simulate.py --suite --report --out out/suite-resnet18 --arch resnet18 --train-images 1000 \
      --shares 0.05 0.02 --kinds texture patch --chosen-on texture companion patch background
  "$PY" scripts/fill_readme.py resnet18-suite out/suite-resnet18/suite.md
fi
if [ -d out/shortcut-check ]; then
  "$PY" scripts/check_shortcuts.py --out out/shortcut-check --report
  "$PY" scripts/fill_readme.py shortcut-check out/shortcut-check/shortcut_check.md
fi
if [ -d out/suite-keep-best ]; then
  "$PY" scripts/simulate.py --suite --report --out out/suite-keep-best --train-images 1000 --shares 0.05 \
      --kinds scale --losses auto~pseudo --chosen-on texture companion
  "$PY" scripts/fill_readme.py keep-best-suite out/suite-keep-best/suite.md
fi
if [ -d out/suite-strategies ]; then
  "$PY" scripts/simulate.py --suite --report --out out/suite-strategies --train-images 1000 --shares 0.02 \
      --kinds background --losses auto~pseudo --strategies gmm gmm_diverse wrong_first shortcut badge entropy
  "$PY" scripts/fill_readme.py strategies-suite out/suite-strategies/suite.md
fi
