"""WSGI entry point: ``gunicorn backend._wsgi:app``; ``python -m backend._wsgi`` for a development server."""
from __future__ import annotations

import logging
import os

from backend.server import create_app
from backend.settings import Settings

settings = Settings.from_env()
logging.basicConfig(
    level=getattr(logging, settings.log_level.upper(), logging.INFO),
    format="[%(asctime)s] [%(levelname)s] [%(name)s::%(process)d] %(message)s",
)
app = create_app(settings)

if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "9090")))
