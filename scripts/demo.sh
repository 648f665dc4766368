#!/usr/bin/env bash
# Install what the demo needs (backend + Label Studio in its own venv), then run scripts/demo.py. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --e2e
exec .venv/bin/python scripts/demo.py "$@"
