#!/usr/bin/env bash
# Set up, build the embedded default (a generated biased dataset and a small CNN trained on it),
# start the backend on 127.0.0.1:${PORT:-9090}, ask it for predictions and keep serving until Ctrl-C.
# --check: exit after the sample predictions instead of serving.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
PY=.venv/bin/python
DATA=${DATA:-data/default}
MODEL=${MODEL:-models/default-base.pt}
PORT=${PORT:-9090}
if [ ! -f "$DATA/train.csv" ]; then
  $PY scripts/make_biased_dataset.py --out "$DATA" --size 128 --train 600 --val 50 --test 100 --shifted 100
fi
if [ ! -f "$MODEL" ]; then
  mkdir -p "$(dirname "$MODEL")"
  $PY scripts/train_base_model.py --data "$DATA" --out "$MODEL" --arch small_cnn --image-size 128 --epochs 5
fi
export MODEL_PATH="$MODEL" MODEL_DIR="${MODEL_DIR:-models/versions}" LOCAL_FILES_DOCUMENT_ROOT="$PWD/$DATA"
export HOST=127.0.0.1 PORT PRETRAINED_WEIGHTS=${PRETRAINED_WEIGHTS:-none} WORKERS=${WORKERS:-1}
$PY -m gunicorn -c python:backend.http.gunicorn_conf backend.http.wsgi:app &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT INT TERM
$PY scripts/predict_sample.py --url "http://127.0.0.1:$PORT" --data "$DATA" --tasks 4
if [ "${1:-}" = "--check" ]; then exit 0; fi
echo "Backend serving on http://127.0.0.1:$PORT (connect it in Label Studio: Settings > Model). Ctrl-C stops it."
wait $SERVER
