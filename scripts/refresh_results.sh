#!/usr/bin/env bash
# Regenerate every result table of README.md, and each suite's suite.md, suite.json and suite.png, from the cells
# that have finished (nothing is trained). A result folder that does not exist yet is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}

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
