import subprocess
import sys
import zipfile

import pytest

from backend.labelstudio.templates import TEMPLATES, render_template


def test_templates_render_with_the_projects_classes():
    xml = render_template("click", ["boat & water", "car"])
    assert xml.count('<Choice value="boat &amp; water"/>') == 2 and xml.count('<Choice value="car"/>') == 2  # answer, guess
    assert "horizontal" not in xml
    with pytest.raises(ValueError, match="unknown template"):
        render_template("fancy")
    with pytest.raises(ValueError, match="two classes"):
        render_template("box", ["one"])


def test_templates_ship_inside_the_wheel(tmp_path):
    """Package data, not files found next to a checkout: a plain (non-editable) install has them."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
                   check=True, capture_output=True)
    [wheel] = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in TEMPLATES:
        assert f"backend/labelstudio/templates_data/{name}.xml" in names
    assert not any(n.startswith("tests/") for n in names)
