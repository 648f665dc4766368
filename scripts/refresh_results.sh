#!/usr/bin/env bash
# Regenerate every result table of README.md, and each suite's suite.md, suite.json and suite.png, from the cells
# that have finished (nothing is trained). A result folder that does not exist yet is skipped.
# Finished cells are kept in docs/results/<folder>/ beside out/ (scripts/keep_cells.sh): a fresh checkout reports,
# and resumes, from the cells committed there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
scripts/keep_cells.sh suite-honest suite-held suite-pseudo suite-resnet18 suite-keep-best suite-resnet18-patch \
    suite-background suite-strategies shortcut-check

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
if [ -d out/suite-resnet18-patch ]; then
  "$PY" scripts/simulate.py --suite --report --out out/suite-resnet18-patch --arch resnet18 --train-images 1000 \
      --shares 0.02 --kinds patch --losses auto~jtt~pseudo auto~pseudo
  "$PY" scripts/fill_readme.py resnet18-patch-suite out/suite-resnet18-patch/suite.md
fi
if [ -d out/suite-background ]; then
  "$PY" scripts/simulate.py --suite --report --out out/suite-background --train-images 1000 --shares 0.05 \
      --kinds background --losses auto~pseudo
  "$PY" scripts/fill_readme.py background-suite out/suite-background/suite.md
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
