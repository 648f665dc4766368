#!/usr/bin/env bash
# Regenerate every result table of README.md, and each suite's suite.md, suite.json and suite.png, from the cells
# that have finished (nothing is trained). A result folder that does not exist yet is skipped.
# Finished cells are kept in docs/results/<folder>/ beside out/ (scripts/keep_cells.sh): a fresh checkout reports,
# and resumes, from the cells committed there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}

suite_block() {  # suite_block FOLDER README-BLOCK REPORT-OPTIONS...: out/FOLDER's cells kept, reported, the block filled
  local folder=$1 block=$2
  shift 2
  scripts/keep_cells.sh "$folder"
  [ -d "out/$folder" ] || return 0
  "$PY" scripts/simulate.py --suite --report --out "out/$folder" --train-images 1000 "$@"
  "$PY" scripts/fill_readme.py "$block" "out/$folder/suite.md"
}

suite_block suite-honest honest-suite --shares 0.05 0.02 --kinds texture patch background
suite_block suite-held held-out-suite --shares 0.02 0.05 --kinds cast logo scale --chosen-on texture companion
suite_block suite-pseudo pseudo-suite --shares 0.02 --kinds texture background --chosen-on texture companion background
# texture ran with auto only (before pseudo masks were the default): its verdict line says the default did not run
suite_block suite-resnet18 resnet18-suite --arch resnet18 --shares 0.05 0.02 --kinds texture patch \
    --chosen-on texture companion patch background
suite_block suite-resnet18-patch resnet18-patch-suite --arch resnet18 --shares 0.02 --kinds patch \
    --losses auto~jtt~pseudo auto~pseudo
suite_block suite-background background-suite --shares 0.05 --kinds background --losses auto~pseudo
suite_block suite-keep-best keep-best-suite --shares 0.05 --kinds scale --losses auto~pseudo --chosen-on texture companion
suite_block suite-strategies strategies-suite --shares 0.02 --kinds background --losses auto~pseudo \
    --strategies gmm gmm_diverse wrong_first shortcut badge entropy
suite_block gpu-resnet18 gpu-resnet18-suite --arch resnet18 --shares 0.02 0.05 \
    --kinds cast logo scale texture patch background companion --losses auto~pseudo
suite_block gpu-resnet18-128 gpu-resnet18-128-suite --arch resnet18 --image-size 128 --shares 0.02 0.05 \
    --kinds cast logo scale patch background --losses auto~pseudo
suite_block gpu-resnet18-224 gpu-resnet18-224-suite --arch resnet18 --image-size 224 --shares 0.02 --kinds patch \
    --losses auto~pseudo
suite_block suite-background-600 background-600-suite --shares 0.05 --kinds background --losses auto~pseudo
suite_block suite-scale-600 scale-600-suite --shares 0.05 --kinds scale --losses auto~pseudo --chosen-on texture companion
suite_block suite-cast-600 cast-600-suite --shares 0.05 --kinds cast --losses auto~pseudo --chosen-on texture companion
suite_block gpu-cnn-600 gpu-cnn-600-suite --shares 0.02 0.05 --kinds cast logo scale texture patch background companion \
    --losses auto~pseudo
suite_block gpu-fit gpu-fit-suite --shares 0.05 --kinds cast logo scale texture patch background companion \
    --losses auto~pseudo~fit --default auto~pseudo~fit
suite_block gpu-fit-resnet18-128 gpu-fit-resnet18-128-suite --arch resnet18 --image-size 128 --shares 0.05 --kinds scale \
    --losses auto~pseudo~fit --default auto~pseudo~fit
suite_block suite-fit fit-suite --shares 0.05 --kinds scale background --losses auto~pseudo auto~pseudo~fit \
    --default auto~pseudo~fit

shortcut_block() {  # shortcut_block FOLDER SEEDS...: out/FOLDER's rows kept, reported, README block FOLDER filled
  local folder=$1
  shift
  scripts/keep_cells.sh "$folder"
  [ -d "out/$folder" ] || return 0
  "$PY" scripts/check_shortcuts.py --out "out/$folder" --report --seeds "$@"
  "$PY" scripts/fill_readme.py "$folder" "out/$folder/shortcut_check.md"
}

shortcut_block shortcut-check 0 1 2 3 4
shortcut_block shortcut-check-held 5
