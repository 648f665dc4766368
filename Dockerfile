# GPU host image: CUDA PyTorch from the base image, the backend on gunicorn.
FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime

# BAKE_WEIGHTS: architectures whose ImageNet weights are downloaded at build time, so /setup never downloads
# (PRETRAINED_WEIGHTS=cache then uses them; an empty value bakes none).
ARG BAKE_WEIGHTS="resnet18"

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HOST=0.0.0.0 \
    PORT=9090 \
    WORKERS=1 \
    THREADS=4 \
    MODEL_DIR=/data/models \
    TRAIN_STANDBY=600 \
    TORCH_HOME=/opt/torch-cache

WORKDIR /app
COPY pyproject.toml README.md ./
COPY backend ./backend
COPY templates ./templates
COPY scripts ./scripts
# torch and torchvision come from the base image (CUDA builds); pip keeps them.
RUN pip install --no-cache-dir -e .
RUN for arch in $BAKE_WEIGHTS; do python scripts/bake_weights.py "$arch"; done

EXPOSE 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '9090'), timeout=4)"
# No --preload: every worker initialises CUDA itself (CUDA cannot be re-initialised in a forked process).
CMD ["gunicorn", "-c", "python:backend.http.gunicorn_conf", "backend.http.wsgi:app"]
