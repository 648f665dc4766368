"""Every console script in pyproject.toml: its module imports, every option has help text, and --help shows the
defaults (one contract for all the command-line tools)."""
import argparse
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_option_is_explained_with_its_default(name):
    module, function = SCRIPTS[name].split(":")
    loaded = importlib.import_module(module)
    assert callable(getattr(loaded, function))
    parser = loaded.parser()
    assert parser.prog == name
    formatter = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{name} {action.option_strings}: no help text"
        shown = formatter._get_help_string(action)
        silent = action.default in (None, False, argparse.SUPPRESS) or action.required
        assert silent or "default" in shown.lower(), f"{name} {action.option_strings}: --help hides the default {action.default!r}"
    parser.format_help()  # every %(default)s and %(choices)s expands


def test_the_scripts_and_modules_answer_help_without_starting_anything():
    for command in (["scripts/order_queue.py", "--help"], ["-m", "backend.cli.serve", "--help"],
                    ["-m", "backend.service.runner", "--help"],
                    ["-m", "backend.service.standby_runner", "--help"], ["-m", "backend.http.wsgi", "--help"]):
        done = subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "usage:" in done.stdout, (command, done.stderr[-500:])
