"""Command-line tools, installed as console scripts (``pyproject.toml``); ``scripts/*.py`` run the same mains from a
checkout. The top layer: it may use every other part of the package."""

import argparse


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``--help`` keeps the module docstring's lines and shows every option's default (unless its help already
    says what happens without it)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        silent = action.default in (None, False, argparse.SUPPRESS) or action.required
        return text if silent or "default" in text.lower() else f"{text} (default: %(default)s)"
