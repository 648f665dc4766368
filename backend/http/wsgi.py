"""WSGI entry point: ``gunicorn backend.http.wsgi:app``; ``python -m backend.http.wsgi`` for a development server."""
from __future__ import annotations

import os

from backend.http.server import create_app
from backend.settings import Settings

settings = Settings.from_env()
settings.configure_logging()
app = create_app(settings)

if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "9090")))
