"""The README documents every setting the backend reads, so the table cannot drift from the code."""
from pathlib import Path

from backend.settings import variables

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_environment_variable_is_documented():
    text = README.read_text(encoding="utf-8")
    missing = [name for name in variables() if f"`{name}`" not in text]
    assert missing == [], f"settings missing from the README: {missing}"
