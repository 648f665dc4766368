#!/usr/bin/env bash
# Create .venv and install the backend with its test tools, CPU PyTorch (no CUDA packages).
# --e2e: also what the end-to-end tests and the demo need: Label Studio (pinned) in its own .ls-venv,
#        and Debian's chromium for the browser test (apt-get, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
LABEL_STUDIO_VERSION=1.23.2
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints/cpu.txt torch torchvision
.venv/bin/python -m pip install --quiet -c constraints/cpu.txt -e ".[test,bench]"
.venv/bin/python -c "import backend, torch, torchvision; print('backend', backend.__version__, 'torch', torch.__version__, 'torchvision', torchvision.__version__)"
if [ "${1:-}" = "--e2e" ]; then
  [ -x .ls-venv/bin/python ] || "$PYTHON" -m venv .ls-venv
  if ! .ls-venv/bin/python -c "import label_studio, sys; sys.exit(label_studio.__version__ != '$LABEL_STUDIO_VERSION')" 2>/dev/null; then
    .ls-venv/bin/python -m pip install --quiet --upgrade pip
    .ls-venv/bin/python -m pip install --quiet "label-studio==$LABEL_STUDIO_VERSION"
  fi
  echo "label-studio $LABEL_STUDIO_VERSION in .ls-venv"
  if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" != 0 ]; then echo "the browser test needs Debian's chromium: apt-get install chromium (as root)" >&2; exit 1; fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
  fi
  /usr/bin/chromium --version 2>/dev/null
fi
