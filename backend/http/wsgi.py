"""WSGI entry point: ``gunicorn backend.http.wsgi:app``; ``python -m backend.http.wsgi`` for a development server."""
from __future__ import annotations

import argparse
import os

from backend.http.server import create_app
from backend.settings import Settings

settings = Settings.from_env()
settings.configure_logging()
app = create_app(settings)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m backend.http.wsgi",
                                     description="Development server (use gunicorn in production: see the README); "
                                                 "settings come from the environment.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "9090")))
    arguments = parser.parse_args()
    app.run(host=arguments.host, port=arguments.port)
