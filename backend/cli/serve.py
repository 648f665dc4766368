"""Serve the backend with gunicorn (``backend/http/gunicorn_conf.py``): settings from environment variables, checked
before any worker starts; HOST, PORT, WORKERS, THREADS choose where and how many (see the README's settings table)."""
from __future__ import annotations

import argparse
import sys

from gunicorn.app.wsgiapp import run

from backend.cli import HelpFormatter
from backend.settings import Settings, SettingsError


def parser() -> argparse.ArgumentParser:
    """The command's options (shown by --help with their defaults)."""
    found = argparse.ArgumentParser(prog="attention-serve", description=__doc__, formatter_class=HelpFormatter)
    found.add_argument("--check", action="store_true", help="validate the settings and exit without serving")
    return found


def main() -> None:
    args = parser().parse_args()
    try:
        Settings.from_env()
    except SettingsError as exc:
        raise SystemExit(f"attention-serve: {exc}") from None
    if args.check:
        print("settings are valid")
        return
    sys.argv = ["gunicorn", "-c", "python:backend.http.gunicorn_conf", "backend.http.wsgi:app"]
    run()


if __name__ == "__main__":
    main()
