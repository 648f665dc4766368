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


def test_finished_cells_are_kept_beside_out_and_come_back_to_a_fresh_checkout(tmp_path):
    """scripts/keep_cells.sh: a cell only in out/ is kept in docs/results/, one only there comes back, the newer copy
    of a cell in both wins, and files that are not cells (models, data) stay where they are."""
    import os
    import subprocess

    script = Path(__file__).parents[1] / "scripts" / "keep_cells.sh"
    out_cell = tmp_path / "out/suite-x/patch/0.05/cells/random__auto__0.json"
    kept_cell = tmp_path / "docs/results/suite-x/patch/0.02/cells/random__ce__1.json"
    check_row = tmp_path / "out/suite-x/logo-3.json"
    both = Path("scale/0.05/cells/base__none__0.json")
    for path, text in [(out_cell, "a"), (kept_cell, "b"), (check_row, "c"), (tmp_path / "out/suite-x" / both, "old"),
                       (tmp_path / "docs/results/suite-x" / both, "new"), (tmp_path / "out/suite-x/patch/base_model.json", "m")]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    os.utime(tmp_path / "out/suite-x" / both, (1_000_000, 1_000_000))
    subprocess.run(["bash", str(script), "suite-x", "suite-none"], cwd=tmp_path, check=True)
    kept = tmp_path / "docs/results/suite-x"
    assert (kept / "patch/0.05/cells/random__auto__0.json").read_text() == "a"
    assert (kept / "logo-3.json").read_text() == "c"
    assert (tmp_path / "out/suite-x/patch/0.02/cells/random__ce__1.json").read_text() == "b"
    assert (tmp_path / "out/suite-x" / both).read_text() == "new" == (kept / both).read_text()
    assert not (kept / "patch/base_model.json").exists() and not (tmp_path / "out/suite-none").exists()
