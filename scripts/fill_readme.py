#!/usr/bin/env python
"""Regenerate a table block of README.md from a result file: the text between ``<!-- NAME -->`` and
``<!-- /NAME -->`` becomes the file's table rows and verdict bullets (a suite.md or shortcut_check.md keeps its
sentences around them; the README says those in its own words).

    .venv/bin/python scripts/fill_readme.py held-out-suite out/suite-held/suite.md
    .venv/bin/python scripts/fill_readme.py shortcut-check out/shortcut-check/shortcut_check.md
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path


def result_lines(markdown: str) -> str:
    """The tables (runs of rows starting with ``|``) and the verdict bullets (``- **``) of a result file, each a blank
    line apart."""
    blocks: list[list[str]] = []
    previous = ""
    for line in markdown.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                blocks.append([])
            blocks[-1].append(line)
        previous = line
    verdicts = [line for line in markdown.splitlines() if line.startswith("- **")]
    return "\n\n".join("\n".join(block) for block in [*blocks, verdicts] if block)


def fill(readme: str, name: str, content: str) -> str:
    """``readme`` with block ``name`` replaced by ``content``; ValueError when the block is missing."""
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), flags=re.S)
    if not pattern.search(readme):
        raise ValueError(f"README has no block {begin} ... {end}")
    return pattern.sub(lambda _: f"{begin}\n{content}\n{end}", readme, count=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("block", help="the block's name in the README")
    parser.add_argument("result", type=Path, help="a suite.md or shortcut_check.md")
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    args = parser.parse_args()
    args.readme.write_text(fill(args.readme.read_text(), args.block, result_lines(args.result.read_text())))


if __name__ == "__main__":
    main()
