#!/usr/bin/env bash
# Create .venv and install the backend with its test tools, CPU PyTorch (no CUDA packages).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints/cpu.txt torch torchvision
.venv/bin/python -m pip install --quiet -c constraints/cpu.txt -e ".[test]"
.venv/bin/python -c "import backend, torch, torchvision; print('backend', backend.__version__, 'torch', torch.__version__, 'torchvision', torchvision.__version__)"
