"""The README documents every setting the backend reads, so the table cannot drift from the code."""
from pathlib import Path

import pytest

from backend.settings import variables

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_environment_variable_is_documented():
    text = README.read_text(encoding="utf-8")
    missing = [name for name in variables() if f"`{name}`" not in text]
    assert missing == [], f"settings missing from the README: {missing}"


def test_fill_readme_replaces_one_named_block_with_a_result_files_table_and_verdicts():
    import importlib.util

    spec = importlib.util.spec_from_file_location("fill_readme", Path(__file__).parents[1] / "scripts" / "fill_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = "Intro sentence.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- **x** at 5%: met.\n"
    readme = "top\n<!-- t -->\nold\n<!-- /t -->\n<!-- u -->\nkeep\n<!-- /u -->\n"
    filled = module.fill(readme, "t", module.result_lines(result))
    assert filled == "top\n<!-- t -->\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- **x** at 5%: met.\n<!-- /t -->\n<!-- u -->\nkeep\n<!-- /u -->\n"
    with pytest.raises(ValueError, match="no block"):
        module.fill(readme, "v", "x")
    two = "| a |\n|---|\n| 1 |\n\nBetween.\n\n| b |\n|---|\n| 2 |\n"  # two tables stay two
    assert module.result_lines(two) == "| a |\n|---|\n| 1 |\n\n| b |\n|---|\n| 2 |"
