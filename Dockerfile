# GPU host image: CUDA PyTorch from the base image, the backend on gunicorn.
FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HOST=0.0.0.0 \
    PORT=9090 \
    WORKERS=1 \
    THREADS=4 \
    MODEL_DIR=/data/models

WORKDIR /app
COPY pyproject.toml README.md ./
COPY backend ./backend
COPY templates ./templates
COPY scripts ./scripts
# torch and torchvision come from the base image (CUDA builds); pip keeps them.
RUN pip install --no-cache-dir -e .

EXPOSE 9090
# No --preload: every worker initialises CUDA itself (CUDA cannot be re-initialised in a forked process).
CMD ["gunicorn", "-c", "python:backend.http.gunicorn_conf", "backend.http.wsgi:app"]
